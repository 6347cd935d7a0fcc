"""The emulator's console: what is deployed and how it got there, in a browser.

``routes`` serves the pages under ``/_emulator/console``; ``views`` decides what they show
(pure); ``security`` makes and checks the session cookie and CSRF tokens (pure).
"""
