Feature: The Glue jobs run what the project was built and tested for

  Scenario: Glue 6.0 (Spark 4.1, Python 3.13)
    Given I have aws_glue_job defined
    Then it must contain glue_version
    And its value must be 6.0

  Scenario: Capacity and timeout are explicit
    Given I have aws_glue_job defined
    Then it must contain timeout
    And it must contain worker_type
    And it must contain number_of_workers
