/* Netlink sockets and messages: see nl.h. */
#include "net/nl.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/netfilter/nfnetlink.h>

#define NL_REPLY_TIMEOUT_MS 5000
#define NL_RCVBUF (1 << 20)   /* big dumps (routes, nf_tables rules) */
#define NL_ATTR_MAX 0xffff    /* nla_len is 16 bits */

struct nl_sock {
  int fd;
  int protocol;
  uint32_t seq;
  char *rbuf;
  size_t rlen;
};

int nl_open(int protocol, nl_sock_t **ret) {
  nl_sock_t *s = calloc(1, sizeof *s);
  if (!s)
    return -ENOMEM;
  s->protocol = protocol;
  s->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
  if (s->fd < 0) {
    int e = -errno;
    free(s);
    return e;
  }
  int one = 1, rcv = NL_RCVBUF;
  (void)setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
  /* the kernel's reason for a refusal (NLMSGERR_ATTR_MSG) */
  (void)setsockopt(s->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  (void)setsockopt(s->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  if (bind(s->fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int e = -errno;
    close(s->fd);
    free(s);
    return e;
  }
  s->seq = (uint32_t)time(NULL);
  s->rlen = 64 * 1024;
  s->rbuf = malloc(s->rlen);
  if (!s->rbuf) {
    close(s->fd);
    free(s);
    return -ENOMEM;
  }
  *ret = s;
  return 0;
}

void nl_close(nl_sock_t *s) {
  if (!s)
    return;
  close(s->fd);
  free(s->rbuf);
  free(s);
}

/* ---- building ---- */

void nl_msg_init(nl_msg_t *m) { memset(m, 0, sizeof *m); }

void nl_msg_free(nl_msg_t *m) {
  free(m->buf);
  nl_msg_init(m);
}

void nl_msg_reset(nl_msg_t *m) {
  m->len = m->cur = 0;
  m->err = 0;
}

/* Room for n more bytes (zeroed, aligned to 4). NULL on err. */
static void *nl__reserve(nl_msg_t *m, size_t n) {
  if (m->err)
    return NULL;
  size_t need = m->len + NLMSG_ALIGN(n);
  if (need > m->cap) {
    size_t cap = m->cap ? m->cap : 1024;
    while (cap < need)
      cap *= 2;
    char *b = realloc(m->buf, cap);
    if (!b) {
      m->err = -ENOMEM;
      return NULL;
    }
    m->buf = b;
    m->cap = cap;
  }
  void *p = m->buf + m->len;
  memset(p, 0, NLMSG_ALIGN(n));
  m->len = need;
  return p;
}

/* The message being built grows with what was appended. */
static void nl__grow_msg(nl_msg_t *m) {
  if (!m->err && m->len > m->cur)
    ((struct nlmsghdr *)(m->buf + m->cur))->nlmsg_len = (uint32_t)(m->len - m->cur);
}

void *nl_msg_begin(nl_msg_t *m, uint16_t type, uint16_t flags, const void *hdr, size_t hdrlen) {
  size_t off = m->len;
  struct nlmsghdr *h = nl__reserve(m, NLMSG_HDRLEN + hdrlen);
  if (!h)
    return NULL;
  m->cur = off;
  h->nlmsg_type = type;
  h->nlmsg_flags = (uint16_t)(flags | NLM_F_REQUEST);
  void *fh = (char *)h + NLMSG_HDRLEN;
  if (hdr && hdrlen)
    memcpy(fh, hdr, hdrlen);
  nl__grow_msg(m);
  return fh;
}

void nl_put(nl_msg_t *m, uint16_t type, const void *data, size_t len) {
  if (NLA_HDRLEN + len > NL_ATTR_MAX) {
    if (!m->err)
      m->err = -EMSGSIZE;
    return;
  }
  size_t off = m->len;
  if (!nl__reserve(m, NLA_HDRLEN + len))
    return;
  struct nlattr *a = (struct nlattr *)(m->buf + off);
  a->nla_type = type;
  a->nla_len = (uint16_t)(NLA_HDRLEN + len);
  if (len)
    memcpy((char *)a + NLA_HDRLEN, data, len);
  nl__grow_msg(m);
}

void nl_put_u8(nl_msg_t *m, uint16_t type, uint8_t v) { nl_put(m, type, &v, sizeof v); }
void nl_put_u16(nl_msg_t *m, uint16_t type, uint16_t v) { nl_put(m, type, &v, sizeof v); }
void nl_put_u32(nl_msg_t *m, uint16_t type, uint32_t v) { nl_put(m, type, &v, sizeof v); }
void nl_put_u64(nl_msg_t *m, uint16_t type, uint64_t v) { nl_put(m, type, &v, sizeof v); }

void nl_put_be16(nl_msg_t *m, uint16_t type, uint16_t v) {
  uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
  nl_put(m, type, b, sizeof b);
}

void nl_put_be32(nl_msg_t *m, uint16_t type, uint32_t v) {
  uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
  nl_put(m, type, b, sizeof b);
}

void nl_put_be64(nl_msg_t *m, uint16_t type, uint64_t v) {
  uint8_t b[8];
  for (int i = 0; i < 8; i++)
    b[i] = (uint8_t)(v >> (56 - 8 * i));
  nl_put(m, type, b, sizeof b);
}

void nl_put_str(nl_msg_t *m, uint16_t type, const char *s) { nl_put(m, type, s, strlen(s) + 1); }

size_t nl_nest_begin(nl_msg_t *m, uint16_t type) {
  size_t off = m->len;
  nl_put(m, (uint16_t)(type | NLA_F_NESTED), NULL, 0);
  return off;
}

void nl_nest_end(nl_msg_t *m, size_t nest) {
  if (m->err || nest >= m->len)
    return;
  size_t len = m->len - nest;
  if (len > NL_ATTR_MAX) {
    m->err = -EMSGSIZE;
    return;
  }
  ((struct nlattr *)(m->buf + nest))->nla_len = (uint16_t)len;
}

/* ---- transactions ---- */

/* Sequence numbers of the messages that expect an answer. */
typedef struct {
  uint32_t *seq;
  size_t n;
} nl__pending_t;

static bool nl__pending_take(nl__pending_t *p, uint32_t seq) {
  for (size_t i = 0; i < p->n; i++)
    if (p->seq[i] == seq) {
      p->seq[i] = p->seq[--p->n];
      return true;
    }
  return false;
}

/* Batch markers of nfnetlink carry no answer of their own (their types
 * are the first message types, RTM_NEWLINK's numbers on rtnetlink). */
static bool nl__is_batch_marker(const nl_sock_t *s, const struct nlmsghdr *h) {
  return s->protocol == NETLINK_NETFILTER &&
         (h->nlmsg_type == NFNL_MSG_BATCH_BEGIN || h->nlmsg_type == NFNL_MSG_BATCH_END);
}

static void nl__error_text(const struct nlmsghdr *h, int code, char *err, size_t errlen) {
  if (!err || !errlen)
    return;
  const struct nlmsgerr *e = NLMSG_DATA(h);
  size_t off = NLMSG_HDRLEN + sizeof *e;
  /* with NETLINK_CAP_ACK the request is not echoed back; without it the
   * echoed message comes first */
  if (!(h->nlmsg_flags & NLM_F_CAPPED))
    off += e->msg.nlmsg_len - NLMSG_HDRLEN;
  if ((h->nlmsg_flags & NLM_F_ACK_TLVS) && h->nlmsg_len > off) {
    const struct nlattr *tb[NLMSGERR_ATTR_MAX + 1];
    if (nl_attr_parse((const char *)h + off, h->nlmsg_len - off, tb, NLMSGERR_ATTR_MAX) == 0 &&
        tb[NLMSGERR_ATTR_MSG] && nl_attr_str(tb[NLMSGERR_ATTR_MSG])) {
      snprintf(err, errlen, "%s (%s)", nl_attr_str(tb[NLMSGERR_ATTR_MSG]), strerror(-code));
      return;
    }
  }
  snprintf(err, errlen, "%s", strerror(-code));
}

int nl_transact(nl_sock_t *s, nl_msg_t *m, nl_reply_cb cb, void *data, char *err, size_t errlen) {
  if (err && errlen)
    err[0] = '\0';
  if (m->err) {
    if (err && errlen)
      snprintf(err, errlen, "building a netlink message: %s", strerror(-m->err));
    return m->err;
  }
  nl__pending_t p = {0};
  size_t count = 0;
  for (size_t off = 0; off < m->len; off += NLMSG_ALIGN(((struct nlmsghdr *)(m->buf + off))->nlmsg_len))
    count++;
  p.seq = calloc(count ? count : 1, sizeof *p.seq);
  if (!p.seq)
    return -ENOMEM;
  for (size_t off = 0; off < m->len;) {
    struct nlmsghdr *h = (struct nlmsghdr *)(m->buf + off);
    h->nlmsg_seq = ++s->seq;
    if (!nl__is_batch_marker(s, h) && (h->nlmsg_flags & (NLM_F_ACK | NLM_F_DUMP)))
      p.seq[p.n++] = h->nlmsg_seq;
    off += NLMSG_ALIGN(h->nlmsg_len);
  }
  struct sockaddr_nl to = {.nl_family = AF_NETLINK};
  ssize_t sent;
  do
    sent = sendto(s->fd, m->buf, m->len, 0, (struct sockaddr *)&to, sizeof to);
  while (sent < 0 && errno == EINTR);
  int rc = 0;
  if (sent < 0) {
    rc = -errno;
    if (err && errlen)
      snprintf(err, errlen, "sending to netlink: %s", strerror(errno));
    goto out;
  }
  while (p.n > 0) {
    struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
    int pr = poll(&pfd, 1, NL_REPLY_TIMEOUT_MS);
    if (pr < 0 && errno == EINTR)
      continue;
    if (pr <= 0) {
      /* after a refused nf_tables batch the kernel answers only the
       * refused message: what is still pending will not come */
      if (rc == 0) {
        rc = -ETIMEDOUT;
        if (err && errlen)
          snprintf(err, errlen, "netlink: no answer within %d ms", NL_REPLY_TIMEOUT_MS);
      }
      break;
    }
    ssize_t n = recv(s->fd, s->rbuf, s->rlen, MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN)
        continue;
      if (rc == 0) {
        rc = -errno;
        if (err && errlen)
          snprintf(err, errlen, "reading from netlink: %s", strerror(errno));
      }
      break;
    }
    if ((size_t)n > s->rlen) { /* a datagram bigger than the buffer was cut */
      if (rc == 0) {
        rc = -EMSGSIZE;
        if (err && errlen)
          snprintf(err, errlen, "netlink reply of %zd bytes exceeds the %zu-byte buffer", n, s->rlen);
      }
      break;
    }
    int left = (int)n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)s->rbuf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_type == NLMSG_ERROR) {
        const struct nlmsgerr *e = NLMSG_DATA(h);
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof *e))
          continue;
        nl__pending_take(&p, h->nlmsg_seq);
        if (e->error < 0 && rc == 0) {
          rc = e->error;
          nl__error_text(h, e->error, err, errlen);
        }
        if (e->error < 0)
          p.n = 0; /* the rest of a refused batch is not answered */
      } else if (h->nlmsg_type == NLMSG_DONE) {
        nl__pending_take(&p, h->nlmsg_seq);
      } else if (h->nlmsg_type != NLMSG_NOOP && cb && rc == 0) {
        int r = cb(h, data);
        if (r < 0) {
          rc = r;
          if (err && errlen && !err[0])
            snprintf(err, errlen, "netlink reply: %s", strerror(-r));
        }
        /* a single reply to a plain get counts as its answer */
        if (!(h->nlmsg_flags & NLM_F_MULTI))
          nl__pending_take(&p, h->nlmsg_seq);
      } else if (!(h->nlmsg_flags & NLM_F_MULTI)) {
        nl__pending_take(&p, h->nlmsg_seq);
      }
    }
  }
  /* leave nothing queued for the next transaction */
  while (recv(s->fd, s->rbuf, s->rlen, MSG_DONTWAIT) > 0)
    ;
out:
  free(p.seq);
  return rc;
}

/* ---- parsing ---- */

int nl_attr_parse(const void *start, size_t len, const struct nlattr **tb, int max) {
  memset(tb, 0, sizeof *tb * (size_t)(max + 1));
  const char *p = start;
  while (len >= NLA_HDRLEN) {
    const struct nlattr *a = (const struct nlattr *)p;
    if (a->nla_len < NLA_HDRLEN || a->nla_len > len)
      return -EINVAL;
    int type = a->nla_type & NLA_TYPE_MASK;
    if (type <= max)
      tb[type] = a;
    size_t step = NLA_ALIGN(a->nla_len);
    if (step >= len)
      break;
    p += step;
    len -= step;
  }
  return 0;
}

int nl_msg_attrs(const struct nlmsghdr *h, size_t hdrlen, const struct nlattr **tb, int max) {
  size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(hdrlen);
  if (h->nlmsg_len < off) {
    memset(tb, 0, sizeof *tb * (size_t)(max + 1));
    return -EINVAL;
  }
  return nl_attr_parse((const char *)h + off, h->nlmsg_len - off, tb, max);
}

const void *nl_attr_data(const struct nlattr *a) { return (const char *)a + NLA_HDRLEN; }
size_t nl_attr_len(const struct nlattr *a) { return a->nla_len - NLA_HDRLEN; }

#define NL_ATTR_GET(name, type)                               \
  type name(const struct nlattr *a) {                         \
    type v = 0;                                               \
    if (a && nl_attr_len(a) >= sizeof v)                      \
      memcpy(&v, nl_attr_data(a), sizeof v);                  \
    return v;                                                 \
  }
NL_ATTR_GET(nl_attr_u8, uint8_t)
NL_ATTR_GET(nl_attr_u16, uint16_t)
NL_ATTR_GET(nl_attr_u32, uint32_t)
NL_ATTR_GET(nl_attr_u64, uint64_t)

uint32_t nl_attr_be32(const struct nlattr *a) {
  if (!a || nl_attr_len(a) < 4)
    return 0;
  const uint8_t *b = nl_attr_data(a);
  return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

const char *nl_attr_str(const struct nlattr *a) {
  if (!a || nl_attr_len(a) == 0)
    return NULL;
  const char *s = nl_attr_data(a);
  return memchr(s, '\0', nl_attr_len(a)) ? s : NULL;
}
