"""The in-person service desk (میز خدمت حضوری): visitors, visits and their passes, gates,
hosts who are told when their visitor comes and goes, and the blacklist."""
