/* The timeline as SVG: a lane per vCPU, the threads it ran as coloured spans, marks for aborts,
 * signals, IPIs, faults and migrations, and the critical sections aborts cut short shaded.
 * Everything is inline (no scripts, no external styles): the file opens anywhere, and every
 * shape's <title> is its tooltip. */
#include <math.h>
#include <string.h>

#include "timeline.h"

#define LEFT      72 /* lane labels */
#define RIGHT     16
#define TOP       58 /* title and legend */
#define LANE_H    30
#define LANE_GAP  10
#define AXIS_H    34
#define MIN_SHADE 1.5 /* px: a section a few instructions long must still show */
#define MERGE_GAP 0.5 /* px: spans of one thread closer than this draw as one */

struct scale {
    uint64_t from, to;
    double px_per_ns;
};

static double x_of(const struct scale *s, uint64_t ns)
{
    if (ns < s->from)
        ns = s->from;
    if (ns > s->to)
        ns = s->to;
    return LEFT + (double)(ns - s->from) * s->px_per_ns;
}

static int lane_y(int cpu) { return TOP + cpu * (LANE_H + LANE_GAP); }

static void put_escaped(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", out);
            break;
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        default:
            fputc(*s, out);
        }
    }
}

static void title(FILE *out, const char *text)
{
    fputs("<title>", out);
    put_escaped(out, text);
    fputs("</title>", out);
}

/* A thread's colour: hues spread by the golden angle, so neighbouring tids differ. */
static double hue(int tid) { return fmod((double)tid * 137.508, 360.0); }

struct pending_rect {
    bool open;
    int cpu, tid;
    double x0, x1;
    uint64_t from_ns, to_ns, insns_from, insns_to;
    unsigned spans;
    bool mixed; /* several threads: zoom in to tell them apart */
};

static void flush_rect(FILE *out, struct pending_rect *r)
{
    if (!r->open)
        return;
    r->open = false;
    double w = r->x1 - r->x0 < 0.6 ? 0.6 : r->x1 - r->x0;
    int y = lane_y(r->cpu);
    fprintf(out,
            "<rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" fill=\"hsl(%.0f,55%%,62%%)\">",
            r->x0, y, w, LANE_H, hue(r->tid));
    char text[200];
    if (r->mixed)
        snprintf(text, sizeof(text),
                 "vCPU %d: %u spans of several threads, %.3f-%.3f us (zoom in "
                 "with --from/--to)",
                 r->cpu, r->spans, (double)r->from_ns / 1000.0, (double)r->to_ns / 1000.0);
    else
        snprintf(text, sizeof(text),
                 "tid %d on vCPU %d: %.3f-%.3f us, its instructions %llu-%llu (%u span%s)", r->tid,
                 r->cpu, (double)r->from_ns / 1000.0, (double)r->to_ns / 1000.0,
                 (unsigned long long)r->insns_from, (unsigned long long)r->insns_to, r->spans,
                 r->spans == 1 ? "" : "s");
    title(out, text);
    fputs("</rect>\n", out);
    if (w > 44)
        fprintf(out, "<text x=\"%.2f\" y=\"%d\" class=\"tid\">tid %d</text>\n", r->x0 + 3,
                y + LANE_H / 2 + 4, r->tid);
}

static void draw_spans(FILE *out, const struct timeline *tl, const struct scale *s)
{
    struct pending_rect r = {0};
    for (size_t i = 0; i < tl->nspans; i++) {
        const struct trace_span *sp = &tl->spans[i];
        if (sp->end_ns < s->from || sp->start_ns > s->to)
            continue;
        double x0 = x_of(s, sp->start_ns), x1 = x_of(s, sp->end_ns);
        /* The same thread again, or anything inside the pixel the last rectangle started
         * in: at this zoom, one rectangle (its tooltip says so). */
        bool same = r.open && r.cpu == sp->cpu && r.tid == sp->tid && x0 - r.x1 < MERGE_GAP;
        bool crowded = r.open && r.cpu == sp->cpu && x1 - r.x0 < 1.0;
        if (same || crowded) {
            r.mixed |= r.tid != sp->tid;
            r.x1 = x1 > r.x1 ? x1 : r.x1;
            r.to_ns = sp->end_ns;
            r.insns_to = sp->end_insns;
            r.spans++;
            continue;
        }
        flush_rect(out, &r);
        r = (struct pending_rect){.open = true,
                                  .cpu = sp->cpu,
                                  .tid = sp->tid,
                                  .x0 = x0,
                                  .x1 = x1,
                                  .from_ns = sp->start_ns,
                                  .to_ns = sp->end_ns,
                                  .insns_from = sp->start_insns,
                                  .insns_to = sp->end_insns,
                                  .spans = 1};
    }
    flush_rect(out, &r);
}

static void draw_shades(FILE *out, const struct timeline *tl, const struct scale *s)
{
    double last_x[TRACE_SPANS_CPUS];
    for (int c = 0; c < TRACE_SPANS_CPUS; c++)
        last_x[c] = -10;
    for (size_t i = 0; i < tl->nshades; i++) {
        const struct timeline_shade *sh = &tl->shades[i];
        if (sh->to_ns < s->from || sh->from_ns > s->to)
            continue;
        double x0 = x_of(s, sh->from_ns), x1 = x_of(s, sh->to_ns);
        if (x1 - x0 < MIN_SHADE)
            x0 = x1 - MIN_SHADE;
        /* One per lane and pixel, as for marks. */
        if (sh->cpu < 0 || sh->cpu >= TRACE_SPANS_CPUS || fabs(x1 - last_x[sh->cpu]) < 1.0)
            continue;
        last_x[sh->cpu] = x1;
        fprintf(out, "<rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" fill=\"url(#cs)\">",
                x0, lane_y(sh->cpu) + LANE_H / 3, x1 - x0, LANE_H - LANE_H / 3);
        title(out, sh->text);
        fputs("</rect>\n", out);
    }
}

/* Each kind's glyph, centred on (0, 0), and where on a lane it sits (from the lane's top). */
static const struct {
    const char *cls, *glyph;
    int lane_dy;
} marks[] = {
    [MARK_ABORT] = {"abort", "<polygon points=\"-4,-4 4,-4 0,3\"/>", -4},
    [MARK_SIGNAL] = {"signal", "<circle r=\"3.5\"/>", LANE_H},
    [MARK_IPI] = {"ipi", "<polygon points=\"0,-4 4,0 0,4 -4,0\"/>", -4},
    [MARK_FAULT] = {"fault", "<path d=\"M-4 -4 l8 8 m0 -8 l-8 8\"/>", LANE_H / 2},
    [MARK_MIGRATE] = {"migrate", "<path d=\"M-2 3 l0 -6 l5 3 z\"/>", LANE_H - 4},
};

/* Opens a <g> the caller closes (after its title). */
static void glyph(FILE *out, enum timeline_mark_kind kind, double x, double y)
{
    fprintf(out, "<g class=\"%s\" transform=\"translate(%.2f,%.1f)\">%s", marks[kind].cls, x, y,
            marks[kind].glyph);
}

static void shape(FILE *out, enum timeline_mark_kind kind, double x, int lane_top)
{
    glyph(out, kind, x, lane_top + marks[kind].lane_dy);
    /* An abort's line crosses the lane, to show which span it cut. */
    if (kind == MARK_ABORT)
        fprintf(out, "<line x1=\"0\" y1=\"3\" x2=\"0\" y2=\"%d\"/>", LANE_H + 4);
}

static void draw_marks(FILE *out, const struct timeline *tl, const struct scale *s)
{
    /* One mark per kind, lane and pixel: a burst of aborts reads as one. */
    double last_x[TRACE_SPANS_CPUS][MARK_MIGRATE + 1];
    for (int c = 0; c < TRACE_SPANS_CPUS; c++)
        for (int k = 0; k <= MARK_MIGRATE; k++)
            last_x[c][k] = -10;
    for (size_t i = 0; i < tl->nmarks; i++) {
        const struct timeline_mark *m = &tl->marks[i];
        if (m->cpu < 0 || m->cpu >= TRACE_SPANS_CPUS || m->ns < s->from || m->ns > s->to)
            continue;
        double x = x_of(s, m->ns);
        if (fabs(x - last_x[m->cpu][m->kind]) < 1.0)
            continue;
        last_x[m->cpu][m->kind] = x;
        shape(out, m->kind, x, lane_y(m->cpu));
        title(out, m->text);
        fputs("</g>\n", out);
    }
}

/* Ticks at 1, 2 or 5 times a power of ten, about ten across. */
static void draw_axis(FILE *out, const struct timeline *tl, const struct scale *s, int width)
{
    int y = lane_y(tl->cpus) + 4;
    uint64_t span = s->to - s->from, step = 1;
    while (step * 10 < span)
        step *= 10;
    if (span / step < 2)
        step /= 5;
    else if (span / step < 5)
        step /= 2;
    if (step == 0)
        step = 1;
    const char *unit = step >= 1000000 ? "ms" : step >= 1000 ? "us" : "ns";
    double div = step >= 1000000 ? 1e6 : step >= 1000 ? 1e3 : 1;
    fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" class=\"axis\"/>\n", LEFT, y,
            width - RIGHT, y);
    for (uint64_t t = (s->from + step - 1) / step * step; t <= s->to; t += step) {
        double x = x_of(s, t);
        fprintf(out, "<line x1=\"%.2f\" y1=\"%d\" x2=\"%.2f\" y2=\"%d\" class=\"axis\"/>", x, y, x,
                y + 5);
        fprintf(out, "<text x=\"%.2f\" y=\"%d\" class=\"tick\">%g %s</text>\n", x, y + 17,
                (double)t / div, unit);
    }
    fprintf(out, "<text x=\"%d\" y=\"%d\" class=\"tick\" text-anchor=\"end\">virtual time</text>\n",
            width - RIGHT, y + 30);
}

static void draw_legend(FILE *out)
{
    static const char *const labels[] = {[MARK_ABORT] = "rseq abort",
                                         [MARK_SIGNAL] = "signal delivered",
                                         [MARK_IPI] = "IPI",
                                         [MARK_FAULT] = "fault or kill",
                                         [MARK_MIGRATE] = "migration"};
    double x = LEFT;
    for (int k = 0; k <= MARK_MIGRATE; k++) {
        glyph(out, (enum timeline_mark_kind)k, x + 4, 38);
        fprintf(out, "</g><text x=\"%.0f\" y=\"42\" class=\"legend\">%s</text>\n", x + 12,
                labels[k]);
        x += 26 + 6.2 * (double)strlen(labels[k]);
    }
    fprintf(out,
            "<rect x=\"%.0f\" y=\"32\" width=\"16\" height=\"12\" fill=\"url(#cs)\"/>"
            "<text x=\"%.0f\" y=\"42\" class=\"legend\">critical section cut short</text>\n",
            x, x + 20);
}

void timeline_svg(const struct timeline *tl, const struct timeline_view *v, FILE *out)
{
    int width = v->width;
    uint64_t to = v->to_ns ? v->to_ns : tl->end_ns;
    uint64_t from = v->from_ns < to ? v->from_ns : 0;
    if (to <= from)
        to = from + 1;
    struct scale s = {
        .from = from, .to = to, .px_per_ns = (double)(width - LEFT - RIGHT) / (double)(to - from)};
    int height = lane_y(tl->cpus) + AXIS_H + 8;
    fprintf(out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n",
            width, height, width, height);
    fputs("<defs><pattern id=\"cs\" width=\"4\" height=\"4\" patternUnits=\"userSpaceOnUse\" "
          "patternTransform=\"rotate(45)\"><rect width=\"4\" height=\"4\" fill=\"#222\" "
          "fill-opacity=\"0.35\"/><line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"4\" stroke=\"#000\" "
          "stroke-width=\"2\"/></pattern>\n"
          "<style>.tid{font-size:11px;fill:#222}.legend,.tick{font-size:11px;fill:#333}"
          ".lane{font-size:12px;fill:#111}.axis{stroke:#555}"
          ".abort line{stroke:#d00;stroke-width:1;opacity:.8}.abort polygon{fill:#d00}"
          ".signal circle{fill:#f90;stroke:#730}.ipi polygon{fill:#80c}"
          ".fault path{stroke:#000;stroke-width:2}.migrate path{fill:#555}</style></defs>\n",
          out);
    fprintf(out, "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", width, height);
    fputs("<text x=\"8\" y=\"16\" font-size=\"14\" font-weight=\"bold\">rseqemu timeline: ", out);
    put_escaped(out, tl->title[0] ? tl->title : "run");
    fputs("</text>\n", out);
    draw_legend(out);
    for (int c = 0; c < tl->cpus; c++) {
        fprintf(out,
                "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#f3f3f3\"/>"
                "<text x=\"8\" y=\"%d\" class=\"lane\">vCPU %d</text>\n",
                LEFT, lane_y(c), width - LEFT - RIGHT, LANE_H, lane_y(c) + LANE_H / 2 + 4, c);
    }
    draw_spans(out, tl, &s);
    draw_shades(out, tl, &s);
    draw_marks(out, tl, &s);
    draw_axis(out, tl, &s, width);
    fputs("</svg>\n", out);
}
