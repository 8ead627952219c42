/* pkg/cri/image: runtime.v1.ImageService calls (pull, list, status,
 * remove, filesystem usage) as k8s.io/cri-api pkg/apis/runtime/v1/
 * api.proto defines them, for the fields k3c uses. */
#include <errno.h>

#include "cri/internal.h"

#define IS "/runtime.v1.ImageService/"
#define PULL_TIMEOUT_MS (30 * 60 * 1000)

static void put_image_spec(proto_writer_t *w, uint32_t num, const char *image) {
  size_t m = proto_msg_begin(w, num);
  cri__put_str(w, 1, image);
  proto_msg_end(w, m);
}

static int get_image(cri__arena_t *a, const proto_reader_t *r, const proto_field_t *f,
                     void *item) { /* cri__item_fn */
  cri_image_t *im = item;
  proto_reader_t s, t;
  proto_field_t g, h;
  int rc = proto_reader_sub(r, f, &s);
  im->id = im->username = "";
  if (rc < 0)
    return rc;
  if ((rc = cri__get_strv(a, &s, 2, &im->repo_tags)) < 0 ||
      (rc = cri__get_strv(a, &s, 3, &im->repo_digests)) < 0)
    return rc;
  while ((rc = proto_reader_next(&s, &g)) > 0) {
    switch (g.num) {
    case 1:
      rc = cri__get_str(a, &g, &im->id);
      break;
    case 4:
      im->size = g.v;
      break;
    case 5:
      if ((rc = proto_reader_sub(&s, &g, &t)) < 0)
        return rc;
      im->uid.set = true;
      while ((rc = proto_reader_next(&t, &h)) > 0)
        if (h.num == 1)
          im->uid.value = (int64_t)h.v;
      break;
    case 6:
      rc = cri__get_str(a, &g, &im->username);
      break;
    case 8:
      im->pinned = g.v != 0;
      break;
    }
    if (rc < 0)
      return rc;
  }
  return rc;
}

static void dec_image_list(cri__arena_t *a, const cri_status_t *st, const cri__msg_t *m,
                     cri__fn_t cb, void *data) {
  cri_image_list_cb fn = (cri_image_list_cb)cb;
  void *v = NULL;
  size_t n = 0;
  if (st->code != CRI_OK)
    fn(data, st, NULL, 0);
  else if (cri__get_repeated(a, m, 1, sizeof(cri_image_t), get_image, &v, &n) < 0)
    fn(data, &cri__bad_reply, NULL, 0);
  else
    fn(data, st, v, n);
}

static void dec_image_status(cri__arena_t *a, const cri_status_t *st, const cri__msg_t *m,
                             cri__fn_t cb, void *data) {
  cri_image_status_cb f = (cri_image_status_cb)cb;
  if (st->code != CRI_OK) {
    f(data, st, NULL);
    return;
  }
  proto_reader_t r;
  proto_field_t fl;
  cri_image_t *im = NULL;
  int rc;
  proto_reader_init(&r, m->data, m->len);
  while ((rc = proto_reader_next(&r, &fl)) > 0)
    if (fl.num == 1) {
      im = cri__arena_alloc(a, sizeof *im);
      if ((rc = get_image(a, &r, &fl, im)) < 0)
        break;
    }
  /* containerd answers an image it does not have with an empty Image. */
  if (im && !im->id[0])
    im = NULL;
  if (rc < 0)
    f(data, &cri__bad_reply, NULL);
  else
    f(data, st, im);
}

static void dec_pull(cri__arena_t *a, const cri_status_t *st, const cri__msg_t *m, cri__fn_t cb,
                     void *data) {
  cri_id_cb f = (cri_id_cb)cb;
  if (st->code != CRI_OK) {
    f(data, st, NULL);
    return;
  }
  proto_reader_t r;
  proto_field_t fl;
  const char *ref = "";
  int rc;
  proto_reader_init(&r, m->data, m->len);
  while ((rc = proto_reader_next(&r, &fl)) > 0)
    if (fl.num == 1 && (rc = cri__get_str(a, &fl, &ref)) < 0)
      break;
  if (rc < 0)
    f(data, &cri__bad_reply, NULL);
  else
    f(data, st, ref);
}

static void dec_empty(cri__arena_t *a, const cri_status_t *st, const cri__msg_t *m, cri__fn_t cb,
                      void *data) {
  ((cri_done_cb)cb)(data, st);
}

/* A UInt64Value / FilesystemIdentifier: field 1 of a small message. */
static int get_u64(const proto_reader_t *r, const proto_field_t *f, uint64_t *ret) {
  proto_reader_t s;
  proto_field_t g;
  int rc = proto_reader_sub(r, f, &s);
  if (rc < 0)
    return rc;
  while ((rc = proto_reader_next(&s, &g)) > 0)
    if (g.num == 1)
      *ret = g.v;
  return rc;
}

static int get_fs_usage(cri__arena_t *a, const proto_reader_t *r, const proto_field_t *f,
                        cri_fs_usage_t *u) {
  proto_reader_t s;
  proto_field_t g;
  int rc = proto_reader_sub(r, f, &s);
  u->mountpoint = "";
  if (rc < 0)
    return rc;
  while ((rc = proto_reader_next(&s, &g)) > 0) {
    if (g.num == 1)
      u->timestamp = (int64_t)g.v;
    else if (g.num == 2)
      rc = cri__get_inner_str(a, &s, &g, 1, &u->mountpoint);
    else if (g.num == 3)
      rc = get_u64(&s, &g, &u->used_bytes);
    else if (g.num == 4)
      rc = get_u64(&s, &g, &u->inodes_used);
    if (rc < 0)
      return rc;
  }
  return rc;
}

static void dec_fs_info(cri__arena_t *a, const cri_status_t *st, const cri__msg_t *m,
                        cri__fn_t cb, void *data) {
  cri_fs_info_cb f = (cri_fs_info_cb)cb;
  if (st->code != CRI_OK) {
    f(data, st, NULL, 0, NULL, 0);
    return;
  }
  proto_reader_t r;
  proto_field_t fl;
  size_t ni = 0, nc = 0, ii = 0, ic = 0;
  proto_reader_init(&r, m->data, m->len);
  int rc = cri__count(&r, 1, &ni);
  if (rc >= 0)
    rc = cri__count(&r, 2, &nc);
  cri_fs_usage_t *vi = cri__arena_alloc(a, (ni ? ni : 1) * sizeof *vi);
  cri_fs_usage_t *vc = cri__arena_alloc(a, (nc ? nc : 1) * sizeof *vc);
  while (rc >= 0 && (rc = proto_reader_next(&r, &fl)) > 0) {
    if (fl.num == 1 && ii < ni)
      rc = get_fs_usage(a, &r, &fl, &vi[ii++]);
    else if (fl.num == 2 && ic < nc)
      rc = get_fs_usage(a, &r, &fl, &vc[ic++]);
  }
  if (rc < 0)
    f(data, &cri__bad_reply, NULL, 0, NULL, 0);
  else
    f(data, st, vi, ii, vc, ic);
}

int cri_pull_image(cri_client_t *c, const char *image, const cri_auth_t *auth,
                   const cri_sandbox_config_t *sandbox_config, cri_id_cb cb, void *data) {
  if (!image || !*image)
    return -EINVAL;
  proto_writer_t w;
  proto_writer_init(&w, CRI_MSG_MAX);
  put_image_spec(&w, 1, image);
  if (auth) {
    size_t m = proto_msg_begin(&w, 2);
    cri__put_str(&w, 1, auth->username);
    cri__put_str(&w, 2, auth->password);
    cri__put_str(&w, 3, auth->auth);
    cri__put_str(&w, 4, auth->server_address);
    cri__put_str(&w, 5, auth->identity_token);
    cri__put_str(&w, 6, auth->registry_token);
    proto_msg_end(&w, m);
  }
  if (sandbox_config)
    cri__put_sandbox_config(&w, 3, sandbox_config);
  int r = cri__rpc(c, IS "PullImage", PULL_TIMEOUT_MS, &w, dec_pull, (cri__fn_t)cb, data);
  proto_writer_done(&w);
  return r;
}

int cri_list_images(cri_client_t *c, const char *image, cri_image_list_cb cb, void *data) {
  proto_writer_t w;
  proto_writer_init(&w, CRI_MSG_MAX);
  if (image && *image) {
    size_t m = proto_msg_begin(&w, 1);
    put_image_spec(&w, 1, image);
    proto_msg_end(&w, m);
  }
  int r = cri__rpc(c, IS "ListImages", 0, &w, dec_image_list, (cri__fn_t)cb, data);
  proto_writer_done(&w);
  return r;
}

int cri_image_status(cri_client_t *c, const char *image, cri_image_status_cb cb, void *data) {
  if (!image || !*image)
    return -EINVAL;
  proto_writer_t w;
  proto_writer_init(&w, CRI_MSG_MAX);
  put_image_spec(&w, 1, image);
  int r = cri__rpc(c, IS "ImageStatus", 0, &w, dec_image_status, (cri__fn_t)cb, data);
  proto_writer_done(&w);
  return r;
}

int cri_remove_image(cri_client_t *c, const char *image, cri_done_cb cb, void *data) {
  if (!image || !*image)
    return -EINVAL;
  proto_writer_t w;
  proto_writer_init(&w, CRI_MSG_MAX);
  put_image_spec(&w, 1, image);
  int r = cri__rpc(c, IS "RemoveImage", 0, &w, dec_empty, (cri__fn_t)cb, data);
  proto_writer_done(&w);
  return r;
}

int cri_image_fs_info(cri_client_t *c, cri_fs_info_cb cb, void *data) {
  proto_writer_t w;
  proto_writer_init(&w, CRI_MSG_MAX);
  int r = cri__rpc(c, IS "ImageFsInfo", 0, &w, dec_fs_info, (cri__fn_t)cb, data);
  proto_writer_done(&w);
  return r;
}
