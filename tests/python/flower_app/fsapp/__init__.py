"""fedshare under a Flower deployment: the test app of test_flower_deployment.py."""
