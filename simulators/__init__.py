"""Loopback simulators of the services bromsync talks to: Bromcom's SOAP service and ParentPay.

They are part of the product (`bromsync demo`, `bromsync simulate`) and of the tests, and
share no code with the engine's side of the same protocol: a reader tested only against its
own writer proves nothing (CONTRIBUTING.md). The engine never imports this package.
"""
