"""One module per consumed event (`on_<event>.py`) and per timer kind (`on_<kind>_timer.py`).

Each is a factory of the service context returning a plain coroutine, `(event, envelope)`
or `(timer)`: it translates what arrived into a command and calls it, nothing more.
Registered in `app.py`.
"""
