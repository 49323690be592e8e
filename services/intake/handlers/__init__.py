"""One module per consumed event (`on_<event>`) and per timer kind (`on_<kind>_timer`).

Each factory takes the `IntakeContext`; the handler translates the event or the timer
into a command and calls it, nothing more.
"""
