"""The services between the kopf handlers and the pure core: org syncs, account reconciles, I/O."""
