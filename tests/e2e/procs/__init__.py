"""Process orchestration for the end-to-end fault tests: private Redis and PostgreSQL, the errortrail processes, traffic."""
