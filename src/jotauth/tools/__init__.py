"""Browser tools: the token debugger and the login demo page.

The pages are static HTML, CSS and JavaScript shipped inside the package (``static/``) so they
need no build step and load nothing from outside the server; ``jotauth.tools.web`` serves them
with a strict Content-Security-Policy. Every token and key stays in the browser: the scripts use
WebCrypto and never send them anywhere.
"""
