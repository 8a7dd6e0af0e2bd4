"""What the auth server tells its operators: audit log, metrics, alerts, the audit API.

Each part subscribes to the typed ``AuthEvent`` of ``jotauth.issuer.events`` (the services
publish, they never call these modules), so a use case knows nothing of who listens.
``create_app`` subscribes them with ``install.install_observability``.
"""
