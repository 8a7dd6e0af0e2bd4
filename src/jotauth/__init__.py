"""jotauth: JWT authentication done properly. Import the parts you need (jotauth.jose, ...)."""

__version__ = "0.1.0"
