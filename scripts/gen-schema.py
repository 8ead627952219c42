#!/usr/bin/env python3
"""Compile the k3c API definitions (pkg/api/defs/*.def, see docs/SCHEMA.md)
into the constant C tables declared in pkg/api/schema.h.

    gen-schema.py OUT.c DEF...

Python 3 standard library only; meson runs it at build time."""
import re
import shlex
import sys

SCALARS = {
    'string': 'SCHEMA_STRING', 'bool': 'SCHEMA_BOOL', 'int32': 'SCHEMA_INT32',
    'int64': 'SCHEMA_INT64', 'double': 'SCHEMA_DOUBLE', 'bytes': 'SCHEMA_BYTES',
    'time': 'SCHEMA_TIME', 'microtime': 'SCHEMA_MICROTIME', 'duration': 'SCHEMA_DURATION',
    'quantity': 'SCHEMA_QUANTITY', 'intorstring': 'SCHEMA_INT_OR_STRING', 'raw': 'SCHEMA_RAW',
}
LIST_TYPES = {'atomic': 'SCHEMA_LISTTYPE_ATOMIC', 'set': 'SCHEMA_LISTTYPE_SET',
              'map': 'SCHEMA_LISTTYPE_MAP'}
VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection']
COLUMN_TYPES = ('string', 'integer', 'number', 'boolean', 'date')


class DefError(Exception):
    pass


class Field:
    def __init__(self):
        self.name = ''
        self.proto = 0
        self.kind = None        # SCHEMA_* constant
        self.ref = None         # type name (resolved later) for objects
        self.container = 'SCHEMA_ONE'
        self.pointer = False
        self.keep = False
        self.required = False
        self.merge_key = None
        self.patch = []
        self.list_type = None
        self.map_keys = None
        self.enums = None
        self.desc = None
        self.inline = False
        self.default = None     # JSON text of the OpenAPI default
        self.map_atomic = False # +mapType=atomic


class Type:
    def __init__(self, name, pkg):
        self.name = name        # full OpenAPI name
        self.pkg = pkg
        self.gv = None
        self.open = False
        self.atomic = False     # +structType=atomic
        self.desc = None
        self.fields = []
        self.where = ''


class Resource:
    def __init__(self, plural, tref, where):
        self.plural = plural
        self.tref = tref
        self.where = where
        self.singular = None
        self.short = []
        self.categories = []
        self.namespaced = True
        self.verbs = list(VERBS)
        self.sub = []
        self.cols = []


def parse(paths):
    pkgs = {}           # alias -> prefix
    types = {}          # full name -> Type
    order = []
    resources = []
    for path in paths:
        cur_pkg = None
        cur = None      # Type or Resource being filled
        with open(path) as f:
            for lineno, raw in enumerate(f, 1):
                where = '%s:%d' % (path, lineno)
                line = raw.rstrip('\n')
                try:
                    tok = shlex.split(line, comments=True)
                except ValueError as e:
                    raise DefError('%s: %s' % (where, e))
                if not tok:
                    continue
                indented = line[0] in ' \t'
                if not indented:
                    cur = None
                    if tok[0] == 'package':
                        if len(tok) != 3:
                            raise DefError('%s: package ALIAS PREFIX' % where)
                        cur_pkg = tok[1]
                        pkgs[tok[1]] = tok[2]
                    elif tok[0] == 'type':
                        if cur_pkg is None:
                            raise DefError('%s: type before package' % where)
                        t = Type(pkgs[cur_pkg] + '.' + tok[1], cur_pkg)
                        t.where = where
                        for o in tok[2:]:
                            if o.startswith('gv='):
                                t.gv = o[3:]
                            elif o == 'open':
                                t.open = True
                            elif o == 'atomic':
                                t.atomic = True
                            elif o.startswith('desc='):
                                t.desc = o[5:]
                            else:
                                raise DefError('%s: unknown type option %r' % (where, o))
                        if t.name in types:
                            raise DefError('%s: type %s defined twice' % (where, t.name))
                        types[t.name] = t
                        order.append(t)
                        cur = t
                    elif tok[0] == 'resource':
                        if len(tok) < 3:
                            raise DefError('%s: resource PLURAL TYPE [cluster]' % where)
                        r = Resource(tok[1], qualify(tok[2], cur_pkg), where)
                        for o in tok[3:]:
                            if o == 'cluster':
                                r.namespaced = False
                            else:
                                raise DefError('%s: unknown resource option %r' % (where, o))
                        resources.append(r)
                        cur = r
                    else:
                        raise DefError('%s: unknown statement %r' % (where, tok[0]))
                    continue
                if cur is None:
                    raise DefError('%s: indented line outside a type or resource' % where)
                if isinstance(cur, Type):
                    cur.fields.append(parse_field(tok, cur_pkg, where))
                else:
                    parse_resource_line(cur, tok, where)
    return pkgs, types, order, resources


def qualify(ref, cur_pkg):
    if '.' in ref:
        return ref          # alias.Name, resolved when packages are known
    return cur_pkg + '.' + ref


def parse_field(tok, cur_pkg, where):
    if len(tok) < 3:
        raise DefError('%s: field needs NAME NUMBER TYPE' % where)
    fl = Field()
    fl.name = tok[0]
    try:
        fl.proto = int(tok[1])
    except ValueError:
        raise DefError('%s: bad protobuf number %r' % (where, tok[1]))
    t = tok[2]
    if fl.name == '-':
        fl.inline = True
        fl.name = ''
    if t.startswith('*'):
        fl.pointer = True
        t = t[1:]
    if t.startswith('[]'):
        fl.container = 'SCHEMA_LIST'
        t = t[2:]
    elif t.startswith('{}'):
        fl.container = 'SCHEMA_MAP'
        t = t[2:]
    if t in SCALARS:
        fl.kind = SCALARS[t]
    else:
        fl.kind = 'SCHEMA_OBJECT'
        fl.ref = qualify(t, cur_pkg)
    for o in tok[3:]:
        k, _, v = o.partition('=')
        if o == 'req':
            fl.required = True
        elif o == 'keep':
            fl.keep = True
        elif k == 'merge':
            fl.patch.append('SCHEMA_PATCH_MERGE')
            fl.merge_key = v or None
        elif o == 'retainKeys':
            fl.patch.append('SCHEMA_PATCH_RETAIN_KEYS')
        elif k == 'list':
            if v not in LIST_TYPES:
                raise DefError('%s: list= takes atomic, set or map' % where)
            fl.list_type = v
        elif k == 'key':
            fl.map_keys = v
        elif o == 'map=atomic':
            fl.map_atomic = True
        elif k == 'enum':
            fl.enums = v.split('|')
        elif k == 'desc':
            fl.desc = v
        elif k == 'default':
            fl.default = v
        else:
            raise DefError('%s: unknown field option %r' % (where, o))
    if fl.inline and (fl.kind != 'SCHEMA_OBJECT' or fl.container != 'SCHEMA_ONE'):
        raise DefError('%s: an inline field must be one object' % where)
    if fl.list_type and fl.container != 'SCHEMA_LIST':
        fl.list_type = None     # upstream puts listType on a few non-lists; meaningless
    if fl.map_atomic:
        if fl.container != 'SCHEMA_MAP':
            raise DefError('%s: map=atomic is for maps' % where)
        fl.list_type = 'atomic'
    return fl


def parse_resource_line(r, tok, where):
    k = tok[0]
    if k == 'singular':
        r.singular = tok[1]
    elif k == 'short':
        r.short = tok[1:]
    elif k == 'categories':
        r.categories = tok[1:]
    elif k == 'verbs':
        for v in tok[1:]:
            if v not in VERBS:
                raise DefError('%s: unknown verb %r' % (where, v))
        r.verbs = tok[1:]
    elif k == 'sub':
        r.sub = tok[1:]
    elif k == 'col':
        # col NAME TYPE PRIORITY PATH|@ [desc=...]
        if len(tok) < 5:
            raise DefError('%s: col NAME TYPE PRIORITY PATH|@ [desc=TEXT]' % where)
        name, ctype, prio, path = tok[1:5]
        if ctype not in COLUMN_TYPES:
            raise DefError('%s: column type %r' % (where, ctype))
        desc = ''
        for o in tok[5:]:
            if o.startswith('desc='):
                desc = o[5:]
            else:
                raise DefError('%s: unknown column option %r' % (where, o))
        if path != '@' and not path.startswith('.'):
            raise DefError('%s: column path must start with "." or be @' % where)
        r.cols.append((name, ctype, int(prio), None if path == '@' else path, desc))
    else:
        raise DefError('%s: unknown resource line %r' % (where, k))


def resolve(pkgs, types, order, resources):
    def full(ref, where):
        alias, _, name = ref.partition('.')
        if alias not in pkgs:
            raise DefError('%s: unknown package %r' % (where, alias))
        n = pkgs[alias] + '.' + name
        if n not in types:
            raise DefError('%s: unknown type %s' % (where, n))
        return n
    for t in order:
        for fl in t.fields:
            if fl.ref:
                fl.ref = full(fl.ref, t.where)
    for r in resources:
        r.tref = full(r.tref, r.where)
        t = types[r.tref]
        if not t.gv:
            raise DefError('%s: resource type %s has no gv=' % (r.where, t.name))
        # The list kind of each resource: {metadata ListMeta = 1, items = 2}.
        lname = t.name + 'List'
        if lname not in types:
            lt = Type(lname, t.pkg)
            lt.gv = t.gv
            lt.where = r.where
            m = Field()
            m.name, m.proto, m.kind = 'metadata', 1, 'SCHEMA_OBJECT'
            m.ref = full('meta.ListMeta', r.where)
            it = Field()
            it.name, it.proto, it.kind, it.ref = 'items', 2, 'SCHEMA_OBJECT', t.name
            it.container, it.required = 'SCHEMA_LIST', True
            lt.fields = [m, it]
            types[lname] = lt
            order.append(lt)
    # apiVersion and kind (TypeMeta: JSON only) on every kind.
    for t in order:
        if t.gv:
            tm = []
            for n in ('apiVersion', 'kind'):
                fl = Field()
                fl.name, fl.proto, fl.kind = n, 0, 'SCHEMA_STRING'
                tm.append(fl)
            t.fields = tm + t.fields


def flatten(types, t, seen=()):
    """JSON view of a type's fields: inline entries stay (name "", for
    protobuf) and the inline type's fields follow them with proto 0."""
    out = []
    for fl in t.fields:
        out.append(fl)
        if fl.inline:
            if fl.ref in seen:
                raise DefError('%s: inline cycle through %s' % (t.where, fl.ref))
            for sub in flatten(types, types[fl.ref], seen + (t.name,)):
                if sub.inline:
                    continue    # the outer inline entry decodes the whole sub-message
                c = Field()
                c.__dict__.update(sub.__dict__)
                c.proto = 0
                out.append(c)
    names = [f.name for f in out if f.name]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise DefError('%s: duplicate JSON fields %s' % (t.where, sorted(dup)))
    return out


def cstr(s):
    if s is None:
        return 'NULL'
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'


def gv_split(gv):
    if '/' in gv:
        g, v = gv.split('/', 1)
        return g, v
    return '', gv


def emit(out_path, types, order, resources):
    names = sorted(types)
    idx = {n: i for i, n in enumerate(names)}
    o = []
    w = o.append
    w('/* Generated by scripts/gen-schema.py from pkg/api/defs/ (do not edit). */')
    w('#include "api/schema_tables.h"')
    w('')
    w('const schema_type_t schema__types[%d];' % len(names))
    w('const size_t schema__ntypes = %d;' % len(names))
    w('')
    enum_ids = {}
    for n in names:
        for fl in flatten(types, types[n]):
            if fl.enums:
                key = tuple(fl.enums)
                if key not in enum_ids:
                    enum_ids[key] = 'E%d' % len(enum_ids)
                    w('static const char *const %s[] = {%s, NULL};' % (
                        enum_ids[key], ', '.join(cstr(e) for e in fl.enums)))
    w('')
    for i, n in enumerate(names):
        fields = flatten(types, types[n])
        if not fields:
            continue
        w('static const schema_field_t F%d[] = { /* %s */' % (i, n))
        for fl in fields:
            ref = '&schema__types[%d]' % idx[fl.ref] if fl.ref else 'NULL'
            patch = '|'.join(fl.patch) if fl.patch else '0'
            w('  {%s, %d, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s},' % (
                cstr(fl.name), fl.proto, fl.kind, fl.container, ref, cstr(fl.merge_key),
                patch, 'true' if fl.required else 'false',
                enum_ids[tuple(fl.enums)] if fl.enums else 'NULL', cstr(fl.desc),
                cstr(fl.map_keys), LIST_TYPES.get(fl.list_type, 'SCHEMA_LISTTYPE_NONE'),
                'true' if fl.pointer else 'false',
                'true' if (fl.keep or fl.pointer) else 'false', cstr(fl.default)))
        w('};')
    w('')
    w('const schema_type_t schema__types[%d] = {' % len(names))
    for i, n in enumerate(names):
        t = types[n]
        nf = len(flatten(types, t))
        w('  {%s, %s, %s, %d, %s, %s},' % (cstr(n), cstr(t.desc), 'F%d' % i if nf else 'NULL', nf,
                                          'true' if t.open else 'false',
                                          'true' if t.atomic else 'false'))
    w('};')
    w('')
    kinds = sorted((t.gv, t.name.rsplit('.', 1)[1], idx[t.name]) for t in order if t.gv)
    w('const schema_kind_entry_t schema__kinds[] = {')
    for gv, k, i in kinds:
        w('  {%s, %s, &schema__types[%d]},' % (cstr(gv), cstr(k), i))
    w('};')
    w('const size_t schema__nkinds = %d;' % len(kinds))
    w('')
    for ri, r in enumerate(resources):
        if r.short:
            w('static const char *const R%d_short[] = {%s, NULL};' % (
                ri, ', '.join(cstr(s) for s in r.short)))
        if r.categories:
            w('static const char *const R%d_cat[] = {%s, NULL};' % (
                ri, ', '.join(cstr(s) for s in r.categories)))
        if r.sub:
            w('static const char *const R%d_sub[] = {%s, NULL};' % (
                ri, ', '.join(cstr(s) for s in r.sub)))
        if r.cols:
            w('static const schema_column_t R%d_cols[] = {' % ri)
            for j, (name, ctype, prio, path, desc) in enumerate(r.cols):
                fmt = 'name' if j == 0 and path == '.metadata.name' else ''
                w('  {%s, %s, %s, %s, %d, %s},' % (cstr(name), cstr(ctype), cstr(fmt), cstr(desc),
                                                  prio, cstr(path)))
            w('};')
    w('')
    w('const schema_resource_t schema_resources[] = {')
    for ri, r in enumerate(resources):
        t = types[r.tref]
        g, v = gv_split(t.gv)
        kind = t.name.rsplit('.', 1)[1]
        if sorted(r.verbs) == sorted(VERBS):
            verbs = 'SCHEMA_VERBS_ALL'
        else:
            verbs = '|'.join('SCHEMA_VERB_' + x.upper() for x in r.verbs) or '0'
        w('  {%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, &schema__types[%d], %s, %d, NULL, NULL},' % (
            cstr(g), cstr(v), cstr(kind), cstr(r.plural), cstr(r.singular or kind.lower()),
            'R%d_short' % ri if r.short else 'NULL', 'R%d_cat' % ri if r.categories else 'NULL',
            'true' if r.namespaced else 'false', verbs, 'R%d_sub' % ri if r.sub else 'NULL',
            idx[t.name], 'R%d_cols' % ri if r.cols else 'NULL', len(r.cols)))
    w('};')
    w('const size_t schema_nresources = %d;' % len(resources))
    with open(out_path, 'w') as f:
        f.write('\n'.join(o) + '\n')


def main():
    if len(sys.argv) < 3:
        sys.stderr.write('usage: gen-schema.py OUT.c DEF...\n')
        return 2
    try:
        pkgs, types, order, resources = parse(sys.argv[2:])
        resolve(pkgs, types, order, resources)
        emit(sys.argv[1], types, order, resources)
    except DefError as e:
        sys.stderr.write('gen-schema: %s\n' % e)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
