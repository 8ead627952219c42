/* JSON helpers for the pkg/json unit tests: parse fixtures, compare
 * documents by JSON equality (arrays ordered, objects unordered) and print
 * both on mismatch. */
#pragma once

#include <cjson/cJSON.h>

#include "json/util.h"
#include "test.h"

/* Parse a fixture; a broken fixture fails the test. Caller cJSON_Delete. */
#define J(text)                                                                \
  ({                                                                           \
    cJSON *j_ = cJSON_Parse(text);                                             \
    if (!j_)                                                                   \
      TEST_FAIL("bad JSON fixture: %s", text);                                 \
    j_;                                                                        \
  })

#define ASSERT_JSON_EQ(got, want_text)                                         \
  do {                                                                         \
    cJSON *w_ = J(want_text);                                                  \
    const cJSON *g_ = (got);                                                   \
    if (!json_equal(g_, w_)) {                                                 \
      char *gs_ = g_ ? cJSON_PrintUnformatted(g_) : NULL;                      \
      char *ws_ = cJSON_PrintUnformatted(w_);                                  \
      printf("#   got:  %s\n#   want: %s\n", gs_ ? gs_ : "(null)", ws_);       \
      cJSON_free(gs_);                                                         \
      cJSON_free(ws_);                                                         \
      cJSON_Delete(w_);                                                        \
      TEST_FAIL("JSON mismatch: %s", #got);                                    \
    }                                                                          \
    cJSON_Delete(w_);                                                          \
  } while (0)
