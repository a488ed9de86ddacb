"""Process orchestration for the end-to-end fault tests: private services, the errortrail processes, traffic."""
