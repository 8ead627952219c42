/* libFuzzer harness for pkg/util/quantity.c: whatever parses must print a
 * canonical form that parses back to the same value, whose own canonical
 * form is then stable, and adding and comparing must agree with each
 * other. (One round may change the text, as upstream's does: 7937.5Ki
 * prints as 8128000, which is read as decimal SI and prints as 8128k.) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/quantity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  quantity_t q, back, sum;
  const char *err = NULL;
  char text[QUANTITY_STR_MAX], again[QUANTITY_STR_MAX];
  if (quantity_parse((const char *)data, size, &q, &err) < 0) {
    if (!err)
      abort();
    return 0;
  }
  int n = quantity_format(&q, text, sizeof(text));
  if (n < 1 || (size_t)n != strlen(text))
    abort();
  if (quantity_parse(text, (size_t)n, &back, &err) < 0)
    abort();
  if (quantity_cmp(&q, &back) != 0)
    abort();
  quantity_t third;
  char last[QUANTITY_STR_MAX];
  int m = quantity_format(&back, again, sizeof(again));
  if (m < 1 || quantity_parse(again, (size_t)m, &third, &err) < 0 || quantity_cmp(&q, &third) != 0 ||
      quantity_format(&third, last, sizeof(last)) != m || strcmp(again, last) != 0)
    abort();
  sum = q;
  if (quantity_add(&sum, &q) == 0) {
    int s = quantity_sign(&q);
    if (quantity_cmp(&sum, &q) != s) /* q + q compares to q as q's sign */
      abort();
    if (quantity_format(&sum, again, sizeof(again)) < 1)
      abort();
  }
  return 0;
}
