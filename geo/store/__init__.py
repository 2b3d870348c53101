"""Storage: engines and migrations, tables, bulk writes, sites and their dated history, street
assignment, vocabularies, tokens, backups. Imports ``geo.engine`` but no intake or service."""
