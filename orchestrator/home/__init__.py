"""Home backends for the orchestrator: Home Assistant (``ha.py``) and the slot lists built from a
home's entities (``entities.py``)."""
