"""One module per consumed event (`on_<event>.py`) and timer kind (`on_<kind>_timer.py`): each
translates what arrived into a command and runs it, nothing more."""
