"""atlassian-operator: Atlassian Cloud user accounts as Kubernetes custom resources."""

__version__ = "0.1.0"
