#!/bin/sh
# ctlogd's --help and --version as help2man reads them, for the man page
# (scripts/deb.sh; CTLOGD_JS names bin/ctlogd.js). help2man makes sections
# of the paragraphs "Options:", "Environment:", "Files:" and "Examples:";
# "Exit status:" and "See also:" become sections here, as help2man's
# "*Name*" lines.
node "$CTLOGD_JS" "$@" | sed -e 's/^Exit status: /*Exit status*\n/' -e 's/^See also: /*See also*\n/'
