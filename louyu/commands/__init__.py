"""One module per `louyu` sub-command: thin shells that parse options and call the packages."""
