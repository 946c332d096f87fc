"""``braintrust eval --dev``: a server the Braintrust playground runs this project's evaluators on
("remote evals"): the wire protocol (``protocol``), who may call it and as whom evals send
(``access``), and the HTTP server itself (``server``)."""
