/* pkg/cri/import: bring an OCI image-layout tarball into containerd
 * without a registry, through containerd's own gRPC services on the CRI
 * socket (containerd 1.6 api/services: leases, content, snapshots, diff,
 * images). It does what containerd's client-side import and unpack do: the
 * blobs go to the content store under a lease, with the garbage-collection
 * labels that keep them; each layer is applied onto a snapshot named by its
 * chain ID; the image record is created, and CRI adopts it from the
 * ImageCreate event. OCI image layout: github.com/opencontainers/image-spec
 * image-layout.md. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cri/internal.h"
#include "tls/cert.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/errbuf.h"

#define NS "k8s.io"
#define JSON_MAX (4u * 1024 * 1024)
#define TAR_ENTRIES_MAX 100000
#define CHUNK (1u * 1024 * 1024)

/* --- the tarball: an index of its regular files --- */

typedef struct {
  char *name;
  uint64_t off, size;
} tar_ent_t;

typedef struct {
  int fd;
  tar_ent_t *v;
  size_t n;
} tar_t;

static uint64_t octal(const char *p, size_t n) {
  uint64_t v = 0;
  if (n && ((unsigned char)p[0] & 0x80)) { /* GNU base-256 for big sizes */
    for (size_t i = 1; i < n; i++)
      v = v << 8 | (unsigned char)p[i];
    return v;
  }
  for (size_t i = 0; i < n && p[i]; i++)
    if (p[i] >= '0' && p[i] <= '7')
      v = v * 8 + (uint64_t)(p[i] - '0');
  return v;
}

static char *clean_name(const char *s) {
  while (s[0] == '.' && s[1] == '/')
    s += 2;
  while (*s == '/')
    s++;
  return xstrdup(s);
}

static int tar_open(tar_t *t, const char *path, char *err, size_t errlen) {
  t->fd = open(path, O_RDONLY | O_CLOEXEC);
  t->v = NULL;
  t->n = 0;
  if (t->fd < 0) {
    int e = errno;
    errbuf_set(err, errlen, "open %s: %s", path, strerror(e));
    return -e;
  }
  uint64_t off = 0;
  char *longname = NULL;
  for (;;) {
    unsigned char h[512];
    ssize_t r = pread(t->fd, h, sizeof h, (off_t)off);
    if (r == 0)
      break;
    if (r != (ssize_t)sizeof h)
      goto bad;
    bool zero = true;
    for (size_t i = 0; i < sizeof h && zero; i++)
      zero = !h[i];
    if (zero)
      break;
    uint64_t size = octal((const char *)h + 124, 12);
    char type = (char)h[156];
    uint64_t data = off + 512;
    off = data + (size + 511) / 512 * 512;
    if (type == 'L') { /* GNU long name for the next entry */
      if (size > 4096)
        goto bad;
      free(longname);
      longname = xmalloc(size + 1);
      if (pread(t->fd, longname, size, (off_t)data) != (ssize_t)size)
        goto bad;
      longname[size] = 0;
      continue;
    }
    if (type != '0' && type != 0) {
      free(longname);
      longname = NULL;
      continue; /* directories, links: not needed for a layout */
    }
    char name[256 + 156];
    if (longname) {
      snprintf(name, sizeof name, "%s", longname);
      free(longname);
      longname = NULL;
    } else if (!memcmp(h + 257, "ustar", 5) && h[345]) {
      snprintf(name, sizeof name, "%.155s/%.100s", (const char *)h + 345, (const char *)h);
    } else {
      snprintf(name, sizeof name, "%.100s", (const char *)h);
    }
    if (t->n == TAR_ENTRIES_MAX)
      goto bad;
    t->v = xrealloc(t->v, (t->n + 1) * sizeof *t->v);
    t->v[t->n].name = clean_name(name);
    t->v[t->n].off = data;
    t->v[t->n].size = size;
    t->n++;
  }
  free(longname);
  return 0;
bad:
  free(longname);
  errbuf_set(err, errlen, "%s: not a readable tar archive", path);
  return -EBADMSG;
}

static void tar_close(tar_t *t) {
  for (size_t i = 0; i < t->n; i++)
    free(t->v[i].name);
  free(t->v);
  if (t->fd >= 0)
    close(t->fd);
}

static const tar_ent_t *tar_find(const tar_t *t, const char *name) {
  for (size_t i = t->n; i-- > 0;) /* the last copy of a name wins, as tar extracts */
    if (!strcmp(t->v[i].name, name))
      return &t->v[i];
  return NULL;
}

static const tar_ent_t *blob(const tar_t *t, const char *digest) {
  char name[128];
  if (strncmp(digest, "sha256:", 7) || strlen(digest) != 71)
    return NULL;
  snprintf(name, sizeof name, "blobs/sha256/%s", digest + 7);
  return tar_find(t, name);
}

static cJSON *read_json(const tar_t *t, const tar_ent_t *e, char *err, size_t errlen) {
  if (!e || e->size > JSON_MAX) {
    errbuf_set(err, errlen, "%s: missing or larger than %u bytes", e ? e->name : "file",
               JSON_MAX);
    return NULL;
  }
  char *s = xmalloc(e->size + 1);
  if (pread(t->fd, s, e->size, (off_t)e->off) != (ssize_t)e->size) {
    free(s);
    errbuf_set(err, errlen, "%s: short read", e->name);
    return NULL;
  }
  s[e->size] = 0;
  cJSON *j = cJSON_ParseWithLength(s, e->size);
  free(s);
  if (!j)
    errbuf_set(err, errlen, "%s: not JSON", e->name);
  return j;
}

static const char *jstr(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* --- synchronous calls on a private loop --- */

typedef struct {
  struct ev_loop *loop;
  cri_client_t *c;
  const char *snapshotter;
  char lease[64];
  tar_t tar;
  char *err;
  size_t errlen;
} imp_t;

typedef struct {
  bool done;
  cri_code_t code;
  char msg[512];
  buf_t last; /* the last response message */
} wait_t;

static void wait_cb(void *data, const cri_status_t *st, const cri__msg_t *msgs, size_t n) {
  wait_t *w = data;
  w->done = true;
  w->code = st->code;
  snprintf(w->msg, sizeof w->msg, "%s", st->message);
  if (n)
    buf_append(&w->last, msgs[n - 1].data, msgs[n - 1].len);
}

static int finish_wait(imp_t *m, wait_t *w, const char *what) {
  while (!w->done)
    ev_run(m->loop, EVRUN_ONCE);
  if (w->code == CRI_OK)
    return 0;
  cri_status_t st = {w->code, w->msg};
  if (what)
    errbuf_set(m->err, m->errlen, "%s: %s", what, w->msg);
  return cri_status_errno(&st);
}

/* One unary call of containerd's API in namespace k8s.io. */
static int call(imp_t *m, const char *path, const proto_writer_t *req, wait_t *w,
                const char *what) {
  buf_init(&w->last, CRI_MSG_MAX);
  w->done = false;
  cri__call_opts_t o = {.path = path, .ns = NS, .lease = m->lease[0] ? m->lease : NULL};
  int r = cri__call(m->c, &o, req, wait_cb, w);
  if (r < 0) {
    errbuf_set(m->err, m->errlen, "%s: request too large", what);
    return r;
  }
  return finish_wait(m, w, what);
}

static int call0(imp_t *m, const char *path, const proto_writer_t *req, const char *what) {
  wait_t w;
  int r = call(m, path, req, &w, what);
  buf_done(&w.last);
  return r;
}

/* --- content --- */

typedef struct {
  imp_t *m;
  const tar_ent_t *e;
  const char *digest;
  char ref[96];
  cri_map_t labels;
  uint64_t sent;
  bool committed;
  proto_writer_t msg; /* the framed message being handed out */
  size_t msg_off;
  uint8_t *chunk;
} write_t;

/* WriteContentRequest {1 action, 2 ref, 3 total, 4 expected, 5 offset,
 * 6 data, 7 labels}: WRITE (1) messages of CHUNK bytes, then COMMIT (2). */
static ssize_t write_pull(void *data, uint8_t *buf, size_t len) {
  write_t *x = data;
  if (x->msg_off == proto_writer_len(&x->msg)) {
    if (x->committed)
      return 0;
    proto_writer_done(&x->msg);
    proto_writer_init(&x->msg, CHUNK + 4096);
    uint8_t pre[5];
    size_t n = x->e->size - x->sent > CHUNK ? CHUNK : (size_t)(x->e->size - x->sent);
    if (n && pread(x->m->tar.fd, x->chunk, n, (off_t)(x->e->off + x->sent)) != (ssize_t)n)
      return -EIO;
    bool last = x->sent + n == x->e->size;
    proto_writer_t body;
    proto_writer_init(&body, CHUNK + 4096);
    proto_put_varint(&body, 1, last ? 2 : 1);
    proto_put_string(&body, 2, x->ref);
    proto_put_int64(&body, 3, (int64_t)x->e->size);
    proto_put_string(&body, 4, x->digest);
    proto_put_int64(&body, 5, (int64_t)x->sent);
    if (n)
      proto_put_bytes(&body, 6, x->chunk, n);
    if (last)
      cri__put_map(&body, 7, x->labels);
    cri__frame_prefix(pre, proto_writer_len(&body));
    buf_append(&x->msg.buf, pre, 5);
    buf_append(&x->msg.buf, proto_writer_data(&body), proto_writer_len(&body));
    proto_writer_done(&body);
    x->msg_off = 0;
    x->sent += n;
    x->committed = last;
  }
  size_t n = proto_writer_len(&x->msg) - x->msg_off;
  if (n > len)
    n = len;
  memcpy(buf, proto_writer_data(&x->msg) + x->msg_off, n);
  x->msg_off += n;
  return (ssize_t)n;
}

static int content_exists(imp_t *m, const char *digest) {
  proto_writer_t w;
  proto_writer_init(&w, 256);
  proto_put_string(&w, 1, digest);
  wait_t wt;
  buf_init(&wt.last, CRI_MSG_MAX);
  wt.done = false;
  cri__call_opts_t o = {.path = "/containerd.services.content.v1.Content/Info", .ns = NS};
  int r = cri__call(m->c, &o, &w, wait_cb, &wt);
  proto_writer_done(&w);
  if (r == 0)
    r = finish_wait(m, &wt, NULL);
  buf_done(&wt.last);
  if (r == 0)
    return 1;
  if (r == -ENOENT)
    return 0;
  errbuf_set(m->err, m->errlen, "content info %s: %s", digest, wt.msg);
  return r;
}

static int content_write(imp_t *m, const tar_ent_t *e, const char *digest, cri_map_t labels) {
  int r = content_exists(m, digest);
  if (r != 0)
    return r < 0 ? r : 0;
  write_t x = {.m = m, .e = e, .digest = digest, .labels = labels};
  snprintf(x.ref, sizeof x.ref, "k3c-import-%s", digest);
  proto_writer_init(&x.msg, 16);
  x.chunk = xmalloc(CHUNK);
  wait_t w;
  buf_init(&w.last, CRI_MSG_MAX);
  w.done = false;
  cri__call_opts_t o = {.path = "/containerd.services.content.v1.Content/Write",
                        .ns = NS,
                        .lease = m->lease,
                        .timeout_ms = 30 * 60 * 1000,
                        .max_msgs = 65536};
  char what[128];
  snprintf(what, sizeof what, "content write %s", digest);
  r = cri__call_stream(m->c, &o, write_pull, &x, wait_cb, &w);
  if (r == 0)
    r = finish_wait(m, &w, what);
  if (r == -EEXIST)
    r = 0; /* written meanwhile */
  buf_done(&w.last);
  proto_writer_done(&x.msg);
  free(x.chunk);
  return r;
}

/* --- snapshots and diff --- */

/* Mounts returned by Prepare (repeated containerd.types.Mount = 1) are
 * passed to Apply as they came: copy the raw fields. */
static int prepare(imp_t *m, const char *key, const char *parent, const char *chain,
                   buf_t *ret_mounts) {
  proto_writer_t w;
  proto_writer_init(&w, 4096);
  proto_put_string(&w, 1, m->snapshotter);
  proto_put_string(&w, 2, key);
  cri__put_str(&w, 3, parent);
  proto_put_map_str(&w, 4, "containerd.io/snapshot.ref", chain);
  wait_t wt;
  int r = call(m, "/containerd.services.snapshots.v1.Snapshots/Prepare", &w, &wt,
               "snapshot prepare");
  proto_writer_done(&w);
  if (r == 0) {
    proto_reader_t rd;
    proto_field_t f;
    proto_reader_init(&rd, wt.last.data, wt.last.len);
    while ((r = proto_reader_next(&rd, &f)) > 0)
      if (f.num == 1 && f.wt == PROTO_LEN) {
        uint8_t h[20];
        size_t hn = proto_varint_encode(h, 2 << 3 | PROTO_LEN); /* ApplyRequest.mounts = 2 */
        hn += proto_varint_encode(h + hn, f.len);
        buf_append(ret_mounts, h, hn);
        buf_append(ret_mounts, f.data, f.len);
      }
    if (r < 0)
      errbuf_set(m->err, m->errlen, "snapshot prepare: bad reply");
  }
  buf_done(&wt.last);
  return r;
}

static int snapshot_exists(imp_t *m, const char *key) {
  proto_writer_t w;
  proto_writer_init(&w, 1024);
  proto_put_string(&w, 1, m->snapshotter);
  proto_put_string(&w, 2, key);
  wait_t wt;
  buf_init(&wt.last, CRI_MSG_MAX);
  wt.done = false;
  cri__call_opts_t o = {.path = "/containerd.services.snapshots.v1.Snapshots/Stat", .ns = NS};
  int r = cri__call(m->c, &o, &w, wait_cb, &wt);
  proto_writer_done(&w);
  if (r == 0)
    r = finish_wait(m, &wt, NULL);
  buf_done(&wt.last);
  if (r == 0)
    return 1;
  if (r == -ENOENT)
    return 0;
  errbuf_set(m->err, m->errlen, "snapshot stat %s: %s", key, wt.msg);
  return r;
}

static void put_descriptor(proto_writer_t *w, uint32_t num, const char *media_type,
                           const char *digest, int64_t size) {
  size_t d = proto_msg_begin(w, num);
  cri__put_str(w, 1, media_type);
  proto_put_string(w, 2, digest);
  proto_put_int64(w, 3, size);
  proto_msg_end(w, d);
}

static int unpack_layer(imp_t *m, const cJSON *layer, const char *parent, const char *chain,
                        unsigned seq) {
  int r = snapshot_exists(m, chain);
  if (r != 0)
    return r < 0 ? r : 0;
  char key[160];
  snprintf(key, sizeof key, "extract-%ld-%u %s", (long)getpid(), seq, chain);
  buf_t mounts;
  buf_init(&mounts, CRI_MSG_MAX);
  if ((r = prepare(m, key, parent, chain, &mounts)) < 0) {
    buf_done(&mounts);
    return r;
  }
  const cJSON *sz = cJSON_GetObjectItemCaseSensitive(layer, "size");
  proto_writer_t w;
  proto_writer_init(&w, CRI_MSG_MAX);
  put_descriptor(&w, 1, jstr(layer, "mediaType"), jstr(layer, "digest"),
                 cJSON_IsNumber(sz) ? (int64_t)sz->valuedouble : 0);
  if (mounts.len)
    buf_append(&w.buf, mounts.data, mounts.len);
  buf_done(&mounts);
  r = call0(m, "/containerd.services.diff.v1.Diff/Apply", &w, "apply layer");
  proto_writer_done(&w);
  if (r == 0) {
    proto_writer_init(&w, 4096);
    proto_put_string(&w, 1, m->snapshotter);
    proto_put_string(&w, 2, chain);
    proto_put_string(&w, 3, key);
    proto_put_map_str(&w, 4, "containerd.io/snapshot.ref", chain);
    r = call0(m, "/containerd.services.snapshots.v1.Snapshots/Commit", &w, "snapshot commit");
    proto_writer_done(&w);
    if (r == -EEXIST)
      r = 0;
  }
  if (r < 0) { /* do not leave the extraction snapshot behind */
    char keep[512];
    snprintf(keep, sizeof keep, "%s", m->err ? m->err : "");
    proto_writer_init(&w, 1024);
    proto_put_string(&w, 1, m->snapshotter);
    proto_put_string(&w, 2, key);
    call0(m, "/containerd.services.snapshots.v1.Snapshots/Remove", &w, NULL);
    proto_writer_done(&w);
    if (m->err)
      errbuf_set(m->err, m->errlen, "%s", keep);
  }
  return r;
}

/* --- one image --- */

static int import_manifest(imp_t *m, const char *name, const cJSON *desc, unsigned *seq) {
  const char *mdigest = jstr(desc, "digest");
  const tar_ent_t *me = mdigest ? blob(&m->tar, mdigest) : NULL;
  int r = -EBADMSG;
  cJSON *man = NULL, *cfg = NULL;
  char (*chain)[72] = NULL;
  if (!me) {
    errbuf_set(m->err, m->errlen, "%s: manifest blob %s missing", name, mdigest ? mdigest : "?");
    goto out;
  }
  if (!(man = read_json(&m->tar, me, m->err, m->errlen)))
    goto out;
  const cJSON *config = cJSON_GetObjectItemCaseSensitive(man, "config");
  const cJSON *layers = cJSON_GetObjectItemCaseSensitive(man, "layers");
  const char *cdigest = jstr(config, "digest");
  const tar_ent_t *ce = cdigest ? blob(&m->tar, cdigest) : NULL;
  if (!ce || !cJSON_IsArray(layers)) {
    errbuf_set(m->err, m->errlen, "%s: manifest without config or layers", name);
    goto out;
  }
  if (!(cfg = read_json(&m->tar, ce, m->err, m->errlen)))
    goto out;
  const cJSON *diffs =
      cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cfg, "rootfs"), "diff_ids");
  int nl = cJSON_GetArraySize(layers);
  if (!cJSON_IsArray(diffs) || cJSON_GetArraySize(diffs) != nl || nl > 1000) {
    errbuf_set(m->err, m->errlen, "%s: number of layers and diff_ids differ", name);
    goto out;
  }
  /* Chain IDs (image-spec config.md "Layer ChainID"). */
  chain = xcalloc((size_t)nl + 1, sizeof *chain);
  for (int i = 0; i < nl; i++) {
    const char *d = cJSON_GetArrayItem(diffs, i)->valuestring;
    if (!d || strlen(d) != 71) {
      errbuf_set(m->err, m->errlen, "%s: bad diff_id", name);
      goto out;
    }
    if (i == 0) {
      snprintf(chain[0], sizeof chain[0], "%s", d);
    } else {
      char in[160], hex[65];
      int n = snprintf(in, sizeof in, "%s %s", chain[i - 1], d);
      tls_sha256_hex(in, (size_t)n, hex);
      snprintf(chain[i], sizeof chain[i], "sha256:%s", hex);
    }
  }
  /* Blobs: layers, then the config (keeps the unpacked snapshot), then the
   * manifest (keeps the config and layers). */
  for (int i = 0; i < nl; i++) {
    const char *ld = jstr(cJSON_GetArrayItem(layers, i), "digest");
    const tar_ent_t *le = ld ? blob(&m->tar, ld) : NULL;
    if (!le) {
      errbuf_set(m->err, m->errlen, "%s: layer blob %s missing", name, ld ? ld : "?");
      r = -EBADMSG;
      goto out;
    }
    if ((r = content_write(m, le, ld, (cri_map_t){0})) < 0)
      goto out;
  }
  char gckey[96];
  snprintf(gckey, sizeof gckey, "containerd.io/gc.ref.snapshot.%s", m->snapshotter);
  cri_kv_t cl[1] = {{gckey, nl ? chain[nl - 1] : ""}};
  if ((r = content_write(m, ce, cdigest, (cri_map_t){cl, nl ? 1u : 0u})) < 0)
    goto out;
  cri_kv_t *ml = xcalloc((size_t)nl + 1, sizeof *ml);
  char (*mkeys)[48] = xcalloc((size_t)nl + 1, sizeof *mkeys);
  ml[0].key = "containerd.io/gc.ref.content.config";
  ml[0].value = cdigest;
  for (int i = 0; i < nl; i++) {
    snprintf(mkeys[i], sizeof mkeys[i], "containerd.io/gc.ref.content.l.%d", i);
    ml[i + 1].key = mkeys[i];
    ml[i + 1].value = jstr(cJSON_GetArrayItem(layers, i), "digest");
  }
  r = content_write(m, me, mdigest, (cri_map_t){ml, (size_t)nl + 1});
  free(ml);
  free(mkeys);
  for (int i = 0; i < nl && r == 0; i++)
    r = unpack_layer(m, cJSON_GetArrayItem(layers, i), i ? chain[i - 1] : "", chain[i], (*seq)++);
  if (r < 0)
    goto out;

  /* The image record: Create, or Update when the name exists. */
  const cJSON *msz = cJSON_GetObjectItemCaseSensitive(desc, "size");
  const char *mtype = jstr(desc, "mediaType");
  proto_writer_t w;
  proto_writer_init(&w, 8192);
  size_t im = proto_msg_begin(&w, 1);
  proto_put_string(&w, 1, name);
  put_descriptor(&w, 3, mtype ? mtype : "application/vnd.oci.image.manifest.v1+json", mdigest,
                 cJSON_IsNumber(msz) ? (int64_t)msz->valuedouble : (int64_t)me->size);
  proto_msg_end(&w, im);
  wait_t wt;
  buf_init(&wt.last, CRI_MSG_MAX);
  wt.done = false;
  cri__call_opts_t o = {.path = "/containerd.services.images.v1.Images/Create", .ns = NS};
  r = cri__call(m->c, &o, &w, wait_cb, &wt);
  if (r == 0)
    r = finish_wait(m, &wt, "image create");
  buf_done(&wt.last);
  if (r == -EEXIST)
    r = call0(m, "/containerd.services.images.v1.Images/Update", &w, "image update");
  proto_writer_done(&w);
out:
  free(chain);
  cJSON_Delete(man);
  cJSON_Delete(cfg);
  return r;
}

/* Wait (up to 10 s) for CRI to list name: it adopts images from events. */
static void cri_seen_cb(void *data, const cri_status_t *st, const cri_image_t *image) {
  int *state = data;
  *state = image ? 1 : 2;
}

static bool wait_cri_sees(imp_t *m, const char *name) {
  for (int i = 0; i < 100; i++) {
    int state = 0;
    if (cri_image_status(m->c, name, cri_seen_cb, &state) < 0)
      return false;
    while (!state)
      ev_run(m->loop, EVRUN_ONCE);
    if (state == 1)
      return true;
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return false;
}

int cri_image_import(const char *socket_path, const char *tar_path, const char *snapshotter,
                     size_t *ret_count, char *err, size_t errlen) {
  imp_t m = {.snapshotter = snapshotter ? snapshotter : "overlayfs", .err = err,
             .errlen = errlen};
  cJSON *index = NULL;
  size_t count = 0;
  unsigned seq = 0;
  int r;
  if (err && errlen)
    err[0] = 0;
  m.tar.fd = -1;
  if ((r = tar_open(&m.tar, tar_path, err, errlen)) < 0)
    goto out;
  if (!(index = read_json(&m.tar, tar_find(&m.tar, "index.json"), err, errlen))) {
    r = -EBADMSG;
    goto out;
  }
  m.loop = ev_loop_new(EVFLAG_AUTO);
  if ((r = cri_client_new(m.loop, socket_path, &m.c)) < 0) {
    errbuf_set(err, errlen, "bad socket path %s", socket_path);
    goto out;
  }
  /* A lease keeps what is written from the garbage collector until the
   * image record and labels reference it; it expires by itself if this
   * process dies half-way. */
  snprintf(m.lease, sizeof m.lease, "k3c-import-%ld-%ld", (long)getpid(), (long)time(NULL));
  char expire[32];
  time_t t = time(NULL) + 3600;
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(expire, sizeof expire, "%Y-%m-%dT%H:%M:%SZ", &tm);
  proto_writer_t w;
  proto_writer_init(&w, 1024);
  proto_put_string(&w, 1, m.lease);
  proto_put_map_str(&w, 3, "containerd.io/gc.expire", expire);
  char lease[64];
  snprintf(lease, sizeof lease, "%s", m.lease);
  m.lease[0] = 0; /* the lease cannot be used to create itself */
  r = call0(&m, "/containerd.services.leases.v1.Leases/Create", &w, "lease create");
  proto_writer_done(&w);
  if (r < 0)
    goto out;
  snprintf(m.lease, sizeof m.lease, "%s", lease);

  const cJSON *mans = cJSON_GetObjectItemCaseSensitive(index, "manifests");
  const cJSON *d;
  cJSON_ArrayForEach(d, mans) {
    const cJSON *ann = cJSON_GetObjectItemCaseSensitive(d, "annotations");
    const char *name = jstr(ann, "io.containerd.image.name");
    if (!name)
      continue; /* a reference name alone would need a base name */
    if ((r = import_manifest(&m, name, d, &seq)) < 0)
      break;
    if (!wait_cri_sees(&m, name)) {
      errbuf_set(err, errlen, "%s: imported, but CRI does not list it", name);
      r = -ETIMEDOUT;
      break;
    }
    count++;
  }
  /* Everything is referenced now; the lease may go. */
  char keep[512];
  snprintf(keep, sizeof keep, "%s", err ? err : "");
  m.lease[0] = 0;
  proto_writer_init(&w, 256);
  proto_put_string(&w, 1, lease);
  call0(&m, "/containerd.services.leases.v1.Leases/Delete", &w, NULL);
  proto_writer_done(&w);
  if (err && errlen)
    snprintf(err, errlen, "%s", keep);
  if (r == 0 && count == 0) {
    errbuf_set(err, errlen, "%s: no manifest with an io.containerd.image.name annotation",
               tar_path);
    r = -ENOENT;
  }
out:
  cri_client_free(m.c);
  if (m.loop)
    ev_loop_destroy(m.loop);
  cJSON_Delete(index);
  tar_close(&m.tar);
  if (r == 0 && ret_count)
    *ret_count = count;
  return r;
}
