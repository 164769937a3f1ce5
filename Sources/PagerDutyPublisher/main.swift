print("pagerduty-publisher")
