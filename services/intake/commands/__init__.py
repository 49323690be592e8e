"""What a request or an event asks of the intake service: one command per module.

Each takes a small frozen command (its input) and the `IntakeContext`, and refuses with
`shared.refusals` (`Invalid`, `NotFound`, `Conflict`), which the app answers as problem+json.
"""
