/* The function libraries through the public API (cel_compile, cel_eval) in
 * a Kubernetes environment: overload resolution by the signatures, the
 * results and upstream's error texts as a rule author sees them. */
#include <errno.h>

#include "cel/cel.h"
#include "test.h"

/* expressions that must evaluate to true */
static const char *const truths[] = {
  /* standard definitions */
  "1 + 2 * 3 == 7 && 7 / 2 == 3 && -7 % 3 == -1",
  "2u + 3u == 5u && 1.5 * 2.0 == 3.0",
  "'ab' + 'cd' == 'abcd' && b'a' + b'b' == b'ab' && [1] + [2] == [1, 2]",
  "1 < 2u && 2u < 2.5 && -1 < 0u && 3.0 >= 3",
  "'b' > 'abc' && b'a' < b'b' && false < true",
  "[1, 2, 3][1] == 2 && {'a': 1}['a'] == 1 && 2 in [1, 2] && 'a' in {'a': 1}",
  "size('h\u00e9llo') == 5 && 'h\u00e9llo'.size() == 5 && size([1, 2]) == 2 && size({'a': 1}) == 1 && size(b'ab') == 2",
  "'hello'.contains('ell') && 'hello'.startsWith('he') && 'hello'.endsWith('lo')",
  "'abc123'.matches('^[a-c]+[0-9]+$') && matches('abc', 'b')",
  "int('42') == 42 && uint('42') == 42u && double('1.5') == 1.5 && string(1.5) == '1.5'",
  "string(1e6) == '1e+06' && string(-12300.0) == '-12300' && string(true) == 'true' && string(b'hi') == 'hi'",
  "bool('true') && !bool('0') && bytes('a') == b'a' && int(2.9) == 2 && uint(2.9) == 2u",
  "type(1) == int && type('a') == string && type([]) == list && type({}) == map && type(null) == null_type",
  "dyn(1) == 1",
  "timestamp('2024-02-29T13:14:15Z').getFullYear() == 2024 && timestamp('2024-02-29T13:14:15Z').getMonth() == 1",
  "timestamp('2024-02-29T13:14:15Z').getDate() == 29 && timestamp('2024-02-29T13:14:15Z').getDayOfMonth() == 28",
  "timestamp('2024-02-29T13:14:15Z').getDayOfWeek() == 4 && timestamp('2024-02-29T13:14:15Z').getDayOfYear() == 59",
  "timestamp('2024-02-29T13:14:15.678Z').getMilliseconds() == 678",
  "timestamp('2024-02-29T13:14:15Z').getHours('+05:30') == 18",
  "timestamp('2024-01-01T00:00:00Z') + duration('1h') == timestamp('2024-01-01T01:00:00Z')",
  "timestamp('2024-01-02T00:00:00Z') - timestamp('2024-01-01T00:00:00Z') == duration('24h')",
  "duration('1h30m').getMinutes() == 90 && string(duration('1h30m')) == '5400s'",
  "string(timestamp('2023-02-03T23:31:20Z')) == '2023-02-03T23:31:20Z' && int(timestamp('1970-01-01T00:16:40Z')) == 1000",
  "duration('1s') < duration('2s') && timestamp('2001-01-01T00:00:00Z') < timestamp('2002-01-01T00:00:00Z')",
  /* strings */
  "'hello'.charAt(1) == 'e' && 'hello mellow'.indexOf('ello', 2) == 7 && 'hello mellow'.lastIndexOf('ello') == 7",
  "'TacoCat'.lowerAscii() == 'tacocat' && 'TacoCat'.upperAscii() == 'TACOCAT'",
  "'hello hello'.replace('he', 'we', 1) == 'wello hello' && 'a,b,c'.split(',') == ['a', 'b', 'c']",
  "'tacocat'.substring(0, 4) == 'taco' && '  x  '.trim() == 'x' && ['a', 'b'].join('-') == 'a-b'",
  "'%s is %d, %.2f'.format(['x', 5, 1.5]) == 'x is 5, 1.50' && strings.quote('a\"b') == '\"a\\\\\"b\"'",
  /* Kubernetes lists, regex */
  "[1, 2, 3].isSorted() && [1, 2, 3].sum() == 6 && [3, 1, 2].min() == 1 && [3, 1, 2].max() == 3",
  "[1, 2, 1].indexOf(1) == 0 && [1, 2, 1].lastIndexOf(1) == 2",
  "'abc 123 456'.find('[0-9]+') == '123' && 'abc 123 456'.findAll('[0-9]+') == ['123', '456']",
  "'abc 123 456'.findAll('[0-9]+', 1) == ['123']",
  /* url, ip, cidr */
  "url('https://example.com:8080/a/b?x=1').getHost() == 'example.com:8080'",
  "url('https://example.com:8080/a/b?x=1').getPort() == '8080' && url('https://example.com/a').getScheme() == 'https'",
  "url('https://example.com/a?x=1&x=2').getQuery()['x'] == ['1', '2'] && isURL('https://x') && !isURL('x')",
  "ip('10.0.0.1').family() == 4 && ip('::1').isLoopback() && isIP('::1') && !isIP('1.2.3')",
  "ip.isCanonical('2001:db8::1') && string(ip('2001:DB8::1')) == '2001:db8::1'",
  "cidr('10.0.0.0/8').containsIP('10.1.2.3') && cidr('10.0.0.0/8').containsCIDR('10.1.0.0/16')",
  "cidr('10.1.2.3/8').masked() == cidr('10.0.0.0/8') && cidr('10.0.0.0/8').prefixLength() == 8",
  "cidr('10.0.0.0/8').ip() == ip('10.0.0.0') && isCIDR('10.0.0.0/8')",
  /* quantity, semver, format */
  "quantity('1Gi').isGreaterThan(quantity('1G')) && quantity('200M') == quantity('0.2G')",
  "quantity('50k').add(20).asInteger() == 50020 && quantity('1.5').isInteger() == false && isQuantity('1Mi')",
  "quantity('1k').compareTo(quantity('1000')) == 0 && sign(quantity('-1')) == -1",
  "semver('1.2.3').major() == 1 && semver('1.2.3').isLessThan(semver('1.10.0')) && isSemver('1.0.0')",
  "format.dns1123Label().validate('my-name') == optional.none()",
  "format.named('dns1123Label').value().validate('My_Name').hasValue()",
  /* sets and lists extensions */
  "sets.contains([1, 2, 3], [2]) && sets.equivalent([1, 2], [2, 1, 2]) && sets.intersects([1], [1, 5])",
  "[1, 2, 3, 4].slice(1, 3) == [2, 3] && [[1], [2, 3]].flatten() == [1, 2, 3] && [3, 1, 2].sort() == [1, 2, 3]",
  "lists.range(3) == [0, 1, 2] && [1, 2].reverse() == [2, 1] && [1, 2, 1].distinct() == [1, 2]",
  /* optionals */
  "optional.of(1).hasValue() && optional.of(1).value() == 1 && optional.none().orValue(2) == 2",
  "!optional.ofNonZeroValue('').hasValue() && optional.none().or(optional.of(3)).value() == 3",
  "[1, 2].first().value() == 1 && [1, 2].last().value() == 2",
};

static const struct {
  const char *expr, *error;
} errors[] = {
  {"9223372036854775807 + 1 == 0", "integer overflow"},
  {"1 / 0 == 0", "division by zero"},
  {"1 % 0 == 0", "modulus by zero"},
  {"[1][5] == 1", "index '5' out of range in list size '1'"},
  {"{'a': 1}['b'] == 1", "no such key: b"},
  {"int('x') == 1", "type conversion error from 'string' to 'int'"},
  {"'hello'.charAt(9) == ''", "index out of range: 9"},
  {"'%d'.format(['x']) == ''", "decimal clause can only be used on integers, was given string"},
  {"[0].min() == 0 && [1].filter(x, x > 5).min() == 0", "min called on empty list"},
  {"ip('1.2.3') == ip('1.2.3.4')", "IP Address \"1.2.3\" parse error during conversion from string"},
  {"cidr('10.0.0.0') == cidr('10.0.0.0/8')", "netip.ParsePrefix(\"10.0.0.0\"): no '/'"},
  {"quantity('1Mo') == quantity('1')", "quantities must match the regular expression"},
  {"url('x') == url('x')", "URL parse error during conversion from string: parse \"x\": invalid URI for request"},
  {"optional.none().value() == 1", "optional.none() dereference"},
  {"'x'.find('(') == ''", "Illegal regex: error parsing regexp: missing closing ): `(`"},
  {"timestamp('2024-01-01T00:00:00Z').getHours('Mars/Base') == 0", "unknown time zone Mars/Base"},
};

static void eval_bool(const char *src, bool *ret, int *ret_rc, char *err, size_t errlen) {
  cel_env_t *env = cel_env_new(CEL_LIB_KUBERNETES);
  cel_error_t e = {{0}};
  cel_program_t *p = cel_compile(env, src, CEL_RESULT_BOOL, &e);
  if (!p) {
    *ret_rc = -1000;
    snprintf(err, errlen, "compile: %s", e.message);
    cel_env_free(env);
    return;
  }
  cel_activation_t *a = cel_activation_new();
  *ret_rc = cel_eval_bool(p, a, CEL_PER_CALL_LIMIT, NULL, ret, &e);
  snprintf(err, errlen, "%s", e.message);
  cel_activation_free(a);
  cel_program_free(p);
  cel_env_free(env);
}

static void test_truths(void) {
  int bad = 0;
  for (size_t i = 0; i < sizeof(truths) / sizeof(truths[0]); i++) {
    bool v = false;
    int rc;
    char err[1100];
    eval_bool(truths[i], &v, &rc, err, sizeof(err));
    if (rc != 0 || !v) {
      printf("#   %s: rc %d %s\n", truths[i], rc, rc ? err : "false");
      bad++;
    }
  }
  ASSERT_EQ_INT(bad, 0);
}

static void test_errors(void) {
  int bad = 0;
  for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
    bool v = false;
    int rc;
    char err[1100];
    eval_bool(errors[i].expr, &v, &rc, err, sizeof(err));
    if (rc != -EINVAL || !strstr(err, errors[i].error)) {
      printf("#   %s: rc %d \"%s\", want \"%s\"\n", errors[i].expr, rc, err, errors[i].error);
      bad++;
    }
  }
  ASSERT_EQ_INT(bad, 0);
}

/* the libraries' functions are not offered without their CEL_LIB_* bit */
static void test_library_bits(void) {
  cel_env_t *env = cel_env_new(0);
  cel_error_t e = {{0}};
  cel_program_t *p = cel_compile(env, "'a'.upperAscii() == 'A'", CEL_RESULT_BOOL, &e);
  ASSERT_NULL(p);
  ASSERT_CONTAINS(e.message, "upperAscii");
  p = cel_compile(env, "'a'.contains('a')", CEL_RESULT_BOOL, &e);
  ASSERT_NOT_NULL(p);
  cel_program_free(p);
  cel_env_free(env);
}

TEST_LIST = {
  TEST(test_truths),
  TEST(test_errors),
  TEST(test_library_bits),
  {0},
};
TEST_MAIN()
