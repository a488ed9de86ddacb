def test_imports():
    import capture.middleware, capture.views, contracts.codec  # noqa: F401
