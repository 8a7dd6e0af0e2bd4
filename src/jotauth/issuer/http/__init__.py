"""Middleware about HTTP itself: body size and time, security headers, CORS options, request
latency and /metrics.

Nothing here reads a request body's content or rewrites a response body another layer
produced: the security rules that need a request's data (limits, cookies, CSRF) live with
that data, in the handlers, the use cases and the guard. ``create_app`` adds these in its
readable order.
"""
