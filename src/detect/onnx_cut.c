/* SPDX-License-Identifier: MIT */
/*
 * onnx_cut.c — find a YOLOv8-style head in an ONNX graph and write the
 * graph cut before its box decode (onnx_cut.h).  ONNX field numbers from
 * onnx/onnx.proto3: ModelProto.graph 7; GraphProto.node 1, output 12;
 * NodeProto.input 1, output 2, op_type 4; ValueInfoProto.name 1.
 */
#include "onnx_cut.h"
#include "onnx_pb.h"

#include <stdlib.h>
#include <string.h>

struct node {
	const uint8_t *raw, *raw_end; /* the whole field, key included */
	struct pb op;
	uint32_t in0, nin, out0, nout; /* into the names array */
	int keep;
};

struct graph {
	struct node *nodes;
	size_t nnodes, cap;
	struct pb *names;
	size_t nnames, ncap;
};

/* Room for one more element in *arr (n used of *cap, each size bytes). */
static int
grow(void *arr, size_t n, size_t *cap, size_t size)
{
	void **a = arr, *p;
	size_t c;

	if (n < *cap)
		return 0;
	c = *cap ? 2 * *cap : 256;
	if (!(p = realloc(*a, c * size)))
		return -1;
	*a = p;
	*cap = c;
	return 0;
}

static int
add_name(struct graph *g, struct pb s)
{
	if (grow(&g->names, g->nnames, &g->ncap, sizeof *g->names))
		return -1;
	g->names[g->nnames++] = s;
	return 0;
}

static int
pb_same(const struct pb *a, const struct pb *b)
{
	return a->end - a->p == b->end - b->p &&
	       memcmp(a->p, b->p, (size_t)(a->end - a->p)) == 0;
}

static int
parse_node(struct graph *g, struct pb nb, const uint8_t *raw,
           const uint8_t *raw_end)
{
	struct node nd = { .raw = raw, .raw_end = raw_end };
	struct pb it = nb, sub;
	uint32_t f;
	uint64_t v;
	int rc;

	/* inputs, then in a second pass outputs and op_type: each node's
	 * names are contiguous, inputs first */
	nd.in0 = (uint32_t)g->nnames;
	while ((rc = pb_next(&it, &f, &v, &sub)) == 1)
		if (f == 1 && sub.p) {
			if (add_name(g, sub))
				return -1;
			nd.nin++;
		}
	if (rc < 0)
		return -1;
	nd.out0 = (uint32_t)g->nnames;
	it = nb;
	while (pb_next(&it, &f, &v, &sub) == 1) {
		if (f == 2 && sub.p) {
			if (add_name(g, sub))
				return -1;
			nd.nout++;
		} else if (f == 4 && sub.p) {
			nd.op = sub;
		}
	}
	if (grow(&g->nodes, g->nnodes, &g->cap, sizeof *g->nodes))
		return -1;
	g->nodes[g->nnodes++] = nd;
	return 0;
}

/* The first node that reads tensor t and is an `op`, or NULL. */
static struct node *
consumer(struct graph *g, const struct pb *t, const char *op)
{
	for (size_t i = 0; i < g->nnodes; i++) {
		struct node *nd = &g->nodes[i];

		if (!nd->op.p || !pb_streq(&nd->op, op))
			continue;
		for (uint32_t k = 0; k < nd->nin; k++)
			if (pb_same(&g->names[nd->in0 + k], t))
				return nd;
	}
	return NULL;
}

static struct node *
producer(struct graph *g, const struct pb *t)
{
	for (size_t i = 0; i < g->nnodes; i++)
		for (uint32_t k = 0; k < g->nodes[i].nout; k++)
			if (pb_same(&g->names[g->nodes[i].out0 + k], t))
				return &g->nodes[i];
	return NULL;
}

/* Mark what computes t (iteratively: graphs are hundreds of nodes deep). */
static int
keep_ancestors(struct graph *g, const struct pb *t)
{
	struct node **stack = malloc((g->nnodes + 1) * sizeof *stack);
	size_t top = 0;
	struct node *nd = producer(g, t);

	if (!stack)
		return -1;
	if (nd && !nd->keep) {
		nd->keep = 1;
		stack[top++] = nd;
	}
	while (top) {
		nd = stack[--top];
		for (uint32_t k = 0; k < nd->nin; k++) {
			struct node *p = producer(g, &g->names[nd->in0 + k]);

			if (p && !p->keep) {
				p->keep = 1;
				stack[top++] = p;
			}
		}
	}
	free(stack);
	return 0;
}

struct wbuf {
	uint8_t *p;
	size_t n, cap;
	int fail;
};

static void
put(struct wbuf *w, const void *src, size_t n)
{
	if (w->fail)
		return;
	if (w->n + n > w->cap) {
		size_t c = w->cap ? w->cap : 4096;
		void *p;

		while (c < w->n + n)
			c *= 2;
		p = realloc(w->p, c);
		if (!p) {
			w->fail = 1;
			return;
		}
		w->p = p;
		w->cap = c;
	}
	memcpy(w->p + w->n, src, n);
	w->n += n;
}

static void
put_varint(struct wbuf *w, uint64_t v)
{
	uint8_t b[10];
	size_t n = 0;

	do {
		b[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	put(w, b, n);
}

/* A length-delimited field: key, length, bytes. */
static void
put_bytes(struct wbuf *w, uint32_t field, const void *p, size_t n)
{
	put_varint(w, (uint64_t)field << 3 | 2);
	put_varint(w, n);
	put(w, p, n);
}

int
onnx_cut_dfl(const uint8_t *buf, size_t n, uint8_t **out, size_t *outn)
{
	struct pb model = { buf, buf + n }, graph, it, sub;
	struct graph g = { 0 };
	struct wbuf gw = { 0 }, mw = { 0 };
	const struct pb *cut = NULL;
	size_t split = 0;
	uint32_t f;
	uint64_t v;
	int rc = -1;

	if (!pb_find(model, 7, &graph))
		return 0;
	it = graph;
	for (;;) {
		const uint8_t *at = it.p;
		int r = pb_next(&it, &f, &v, &sub);

		if (r == 0)
			break;
		if (r < 0)
			goto done;
		if (f == 1 && sub.p && parse_node(&g, sub, at, it.p))
			goto done;
	}
	/* the head: Split -> (Reshape -> Transpose -> Softmax, Sigmoid) */
	for (size_t i = 0; i < g.nnodes && !cut; i++) {
		struct node *s = &g.nodes[i], *r, *t;

		if (!s->op.p || !pb_streq(&s->op, "Split") || s->nout != 2 ||
		    !s->nin)
			continue;
		r = consumer(&g, &g.names[s->out0], "Reshape");
		t = r && r->nout ? consumer(&g, &g.names[r->out0], "Transpose")
		                 : NULL;
		if (t && t->nout &&
		    consumer(&g, &g.names[t->out0], "Softmax") &&
		    consumer(&g, &g.names[s->out0 + 1], "Sigmoid")) {
			cut = &g.names[s->in0];
			split = i;
		}
	}
	if (!cut) {
		rc = 0;
		goto done;
	}
	if (keep_ancestors(&g, cut))
		goto done;
	/* the split among what computes its own input: a cycle, which no
	 * ONNX graph may have (and the cut would keep the head) */
	if (g.nodes[split].keep)
		goto done;
	/* the graph: its fields as they were, but only the kept nodes and
	 * one output, the cut tensor */
	it = graph;
	for (size_t k = 0;;) {
		const uint8_t *at = it.p;
		int r = pb_next(&it, &f, &v, &sub);

		if (r <= 0)
			break;
		if (f == 1 && sub.p) {
			if (g.nodes[k++].keep)
				put(&gw, at, (size_t)(it.p - at));
		} else if (f != 12) {
			put(&gw, at, (size_t)(it.p - at));
		}
	}
	{
		/* name, and type: a float32 tensor of unstated shape
		 * (TypeProto.tensor_type 1 { elem_type 1 = FLOAT, shape 2
		 * {} }): OpenCV wants both fields on an output */
		static const uint8_t type[] = { 0x12, 0x06, 0x0a, 0x04, 0x08,
			                        0x01, 0x12, 0x00 };
		struct wbuf vi = { 0 };

		put_bytes(&vi, 1, cut->p, (size_t)(cut->end - cut->p));
		put(&vi, type, sizeof type);
		if (!vi.fail)
			put_bytes(&gw, 12, vi.p, vi.n);
		gw.fail |= vi.fail;
		free(vi.p);
	}
	/* the model: every field as it was, the graph replaced */
	it = model;
	for (;;) {
		const uint8_t *at = it.p;
		int r = pb_next(&it, &f, &v, &sub);

		if (r <= 0)
			break;
		if (f == 7 && sub.p)
			put_bytes(&mw, 7, gw.p, gw.n);
		else
			put(&mw, at, (size_t)(it.p - at));
	}
	if (gw.fail || mw.fail)
		goto done;
	*out = mw.p;
	*outn = mw.n;
	mw.p = NULL;
	rc = 1;
done:
	free(mw.p);
	free(gw.p);
	free(g.nodes);
	free(g.names);
	return rc;
}
