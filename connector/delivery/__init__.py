"""Getting letters into the organization's correspondence system and following them there:
push (claim, deliver, reconcile after an ambiguous failure, back off) and polling (routing
changes recorded once). May import letters and everything below it; state changes go
through ``connector.letters.lifecycle``."""
