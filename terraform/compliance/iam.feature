Feature: Least privilege

  Scenario: No role policy allows every action
    Given I have aws_iam_role_policy defined
    Then it must contain policy
    And its value must not match the "\"Action\":\s*\"\*\"" regex

  Scenario: No role policy allows a whole service
    Given I have aws_iam_role_policy defined
    Then it must contain policy
    And its value must not match the "\"[a-z0-9-]+:\*\"" regex

  Scenario: Roles can be assumed from this account only
    Given I have aws_iam_role defined
    Then it must contain assume_role_policy
    And its value must match the "aws:SourceAccount" regex
