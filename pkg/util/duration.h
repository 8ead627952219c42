/* Go's duration syntax ("1h30m", "90s", "1.5h", "0"), as flags of kubectl,
 * kubeadm and k3s take it. Pure; any thread. */
#pragma once

/* The duration in whole seconds (fractions dropped), or -1 for text that is
 * not a non-negative Go duration. */
long duration_parse(const char *s);
