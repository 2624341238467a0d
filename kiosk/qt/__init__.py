"""Qt glue between services and views."""
