#!/usr/bin/env bash
# Refuse functions that invite overflows or hide errors (as curl's checksrc
# does): sprintf, vsprintf, strcpy, strcat, gets, atoi, atol, strtok.
cd "$(dirname "$0")/.."
hits=$(grep -nE '\b(sprintf|vsprintf|strcpy|strcat|gets|atoi|atol|strtok)\s*\(' \
  $(find cmd pkg bench tests -name '*.c' -o -name '*.h' 2>/dev/null) 2>/dev/null | grep -vE 'snprintf|vsnprintf')
if [ -n "$hits" ]; then
  echo "banned functions used (use snprintf, memcpy with a length, strtol):"
  echo "$hits"
  exit 1
fi
