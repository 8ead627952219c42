/* libFuzzer harness for the node options pkg/agent/host.c parses
 * (--kube-reserved/--system-reserved lists, --node-label and --node-taint
 * entries): the input, split at its first two newlines, is a reserved list,
 * a label entry and a taint entry. Each parser must either return a result
 * or a non-empty reason, and an allocatable never exceeds its capacity. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_allocatable(const cJSON *st) {
  static const char *const names[] = {"cpu", "memory", "ephemeral-storage", "pods"};
  const cJSON *cap = cJSON_GetObjectItemCaseSensitive(st, "capacity");
  const cJSON *alloc = cJSON_GetObjectItemCaseSensitive(st, "allocatable");
  for (int i = 0; i < 4; i++) {
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(cap, names[i]);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(alloc, names[i]);
    if (!cJSON_IsString(c) || !cJSON_IsString(a) || !a->valuestring[0])
      abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096)
    return 0;
  char *text = malloc(size + 1);
  if (!text)
    return 0;
  memcpy(text, data, size);
  text[size] = 0;
  char *label = strchr(text, '\n');
  if (label)
    *label++ = 0;
  char *taint = label ? strchr(label, '\n') : NULL;
  if (taint)
    *taint++ = 0;

  agent_host_t h;
  memset(&h, 0, sizeof(h));
  h.cpus = 2;
  h.memory_bytes = 4ull << 30;
  h.storage_bytes = 20ull << 30;
  h.arch = "amd64";
  char err[256];
  err[0] = 0;
  cJSON *st = agent_host_node_status(&h, "10.0.0.1", text, text, "", "", err, sizeof(err));
  if (!st && !err[0])
    abort();
  if (st)
    check_allocatable(st);
  cJSON_Delete(st);

  char *one[] = {label ? label : text, NULL};
  config_list_t list = {one, 1};
  err[0] = 0;
  cJSON *l = agent_host_labels("node", true, &list, err, sizeof(err));
  if (!l && !err[0])
    abort();
  cJSON_Delete(l);

  one[0] = taint ? taint : text;
  err[0] = 0;
  cJSON *t = agent_host_taints(&list, err, sizeof(err));
  if ((!t && !err[0]) || (t && cJSON_GetArraySize(t) != 1))
    abort();
  cJSON_Delete(t);
  free(text);
  return 0;
}
