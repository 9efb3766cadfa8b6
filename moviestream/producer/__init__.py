"""The producer (``moviestream replay``, ``generate``, ``from-vega-movies``): movie CSV rows as
envelopes into Kinesis, KPL-aggregated (aggregation.py), at a rate or as fast as the stream takes
them (replay.py, parallel.py, sink.py), and the synthetic and real-films data it can send."""
