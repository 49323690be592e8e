"""What an event, a timer or a request asks of the service: notify, deliver, page, remind."""
