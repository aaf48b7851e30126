/*
 * probe — prints one JSON object saying what this process sees of its container:
 * identity (pids, ids, groups, umask), privileges (capability sets, no_new_privs,
 * seccomp mode), names (hostname, domainname), the namespaces, cgroups and mounts it
 * is in, its rlimits, environment, open file descriptors and oom_score_adj.
 *
 * Built static (gcc -static -O2) so that it runs in any root filesystem; the tests put
 * it at /probe and parse its output with tests/support/probe.py. Run on the host it
 * describes the host process, which is how its output is unit-tested.
 *
 *   probe [-o FILE]     write the object to FILE instead of stdout
 *
 * Strings are JSON-escaped; bytes that are not valid UTF-8 become U+FFFD. Numbers are
 * printed as the kernel gives them: RLIM_INFINITY is 18446744073709551615.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <unistd.h>

extern char **environ;

/* --- a small JSON writer: values are separated by commas per nesting level ------- */

static FILE *out;
static int counts[32];
static int depth;
static int after_key;

static void begin_value(void)
{
    if (after_key) {
        after_key = 0;
        return;
    }
    if (counts[depth]++)
        putc(',', out);
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xbf;
    size_t len, i;

    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f; /* no surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if (s[i] < lo || s[i] > hi)
            return 0;
        lo = 0x80;
        hi = 0xbf;
    }
    return len;
}

static void put_string(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, len;

    putc('"', out);
    while (i < n) {
        unsigned char c = s[i];
        if (c == '"' || c == '\\') {
            putc('\\', out);
            putc(c, out);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            switch (c) {
            case '\n': fputs("\\n", out); break;
            case '\t': fputs("\\t", out); break;
            case '\r': fputs("\\r", out); break;
            case '\b': fputs("\\b", out); break;
            case '\f': fputs("\\f", out); break;
            default: fprintf(out, "\\u%04x", c);
            }
            i++;
        } else if (c < 0x80) {
            putc(c, out);
            i++;
        } else if ((len = utf8_len(s + i, n - i)) != 0) {
            fwrite(s + i, 1, len, out);
            i += len;
        } else {
            fputs("\\ufffd", out);
            i++;
        }
    }
    putc('"', out);
}

static void key(const char *k)
{
    begin_value();
    put_string(k, strlen(k));
    putc(':', out);
    after_key = 1;
}

static void open_object(void) { begin_value(); putc('{', out); counts[++depth] = 0; }
static void close_object(void) { depth--; putc('}', out); }
static void open_array(void) { begin_value(); putc('[', out); counts[++depth] = 0; }
static void close_array(void) { depth--; putc(']', out); }
static void value_null(void) { begin_value(); fputs("null", out); }
static void value_int(long long v) { begin_value(); fprintf(out, "%lld", v); }
static void value_uint(unsigned long long v) { begin_value(); fprintf(out, "%llu", v); }
static void value_strn(const char *s, size_t n) { begin_value(); put_string(s, n); }

static void value_str(const char *s)
{
    if (s)
        value_strn(s, strlen(s));
    else
        value_null();
}

/* --- reading /proc ------------------------------------------------------------- */

/* The whole file, NUL-terminated, or NULL; *size gets its length. */
static char *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "re");
    char *buf = NULL;
    size_t cap = 0, len = 0, got;

    if (!f)
        return NULL;
    do {
        if (cap - len < 4096) {
            char *grown = realloc(buf, cap + 16384);
            if (!grown) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = grown;
            cap += 16384;
        }
        got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
    } while (got > 0);
    fclose(f);
    buf[len] = '\0';
    if (size)
        *size = len;
    return buf;
}

/* The value of "Name:\tvalue" in a /proc status file, copied into dst, or NULL. */
static const char *status_field(const char *status, const char *name, char *dst, size_t cap)
{
    size_t n = strlen(name);
    const char *line = status;

    while (line && *line) {
        if (strncmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1, *end;
            size_t len;
            while (*v == ' ' || *v == '\t')
                v++;
            end = strchr(v, '\n');
            len = end ? (size_t)(end - v) : strlen(v);
            if (len >= cap)
                len = cap - 1;
            memcpy(dst, v, len);
            dst[len] = '\0';
            return dst;
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return NULL;
}

static void status_int(const char *status, const char *name)
{
    char buf[64];
    if (status_field(status, name, buf, sizeof buf))
        value_int(strtoll(buf, NULL, 10));
    else
        value_null();
}

/* Each line of a file as a string, without its newline. */
static void lines_array(const char *path)
{
    char *buf = read_file(path, NULL), *line, *next;

    open_array();
    for (line = buf; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        value_str(line);
        if (!next)
            break;
    }
    close_array();
    free(buf);
}

/* /proc/self/{uid,gid}_map as [[inside, outside, count], ...]. */
static void id_map(const char *path)
{
    char *buf = read_file(path, NULL), *p;
    unsigned long long a, b, c;
    int used;

    open_array();
    for (p = buf; p && sscanf(p, " %llu %llu %llu%n", &a, &b, &c, &used) == 3; p += used) {
        open_array();
        value_uint(a);
        value_uint(b);
        value_uint(c);
        close_array();
    }
    close_array();
    free(buf);
}

/* mountinfo escapes space, tab, newline and backslash as \ooo: undo that in place. */
static char *unescape(char *s)
{
    char *r = s, *w = s;
    while (*r) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
            r += 4;
        } else
            *w++ = *r++;
    }
    *w = '\0';
    return s;
}

/*
 * One object per line of /proc/self/mountinfo (proc(5)):
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 *   id parent major:minor root target options [optional...] - fstype source super_options
 */
static void mounts(void)
{
    char *buf = read_file("/proc/self/mountinfo", NULL), *line, *next;

    open_array();
    for (line = buf; line && *line; line = next) {
        char *field[64], *save = NULL, *tok;
        int n = 0, dash = -1, i;

        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        for (tok = strtok_r(line, " ", &save); tok && n < 64; tok = strtok_r(NULL, " ", &save)) {
            if (dash < 0 && n >= 6 && strcmp(tok, "-") == 0)
                dash = n;
            field[n++] = tok;
        }
        if (dash < 0 || n < dash + 3)
            continue;
        open_object();
        key("id"), value_int(atoll(field[0]));
        key("parent"), value_int(atoll(field[1]));
        key("root"), value_str(unescape(field[3]));
        key("target"), value_str(unescape(field[4]));
        key("options"), value_str(field[5]);
        key("propagation");
        open_array();
        for (i = 6; i < dash; i++)
            value_str(field[i]);
        close_array();
        key("fstype"), value_str(field[dash + 1]);
        key("source"), value_str(unescape(field[dash + 2]));
        key("super_options"), value_str(dash + 3 < n ? field[dash + 3] : NULL);
        close_object();
        if (!next)
            break;
    }
    close_array();
    free(buf);
}

static void rlimit(const char *name, int resource)
{
    struct rlimit rl;

    key(name);
    if (getrlimit(resource, &rl) != 0) {
        value_null();
        return;
    }
    open_object();
    key("soft"), value_uint((unsigned long long)rl.rlim_cur);
    key("hard"), value_uint((unsigned long long)rl.rlim_max);
    close_object();
}

static void fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int own;

    open_array();
    if (!d) {
        close_array();
        return;
    }
    own = dirfd(d);
    /* readdir gives the fds in ascending order on procfs */
    while ((e = readdir(d)) != NULL) {
        char path[64], target[PATH_MAX];
        ssize_t n;
        int fd;

        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        fd = atoi(e->d_name);
        if (fd == own || (out != stdout && fd == fileno(out)))
            continue;
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        n = readlink(path, target, sizeof target);
        open_object();
        key("fd"), value_int(fd);
        key("target");
        if (n >= 0)
            value_strn(target, (size_t)n);
        else
            value_null();
        close_object();
    }
    closedir(d);
    close_array();
}

static void namespaces(void)
{
    static const char *const names[] = {"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"};
    size_t i;

    open_object();
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[64], target[256];
        ssize_t n;

        snprintf(path, sizeof path, "/proc/self/ns/%s", names[i]);
        n = readlink(path, target, sizeof target);
        key(names[i]);
        if (n >= 0)
            value_strn(target, (size_t)n);
        else
            value_null();
    }
    close_object();
}

int main(int argc, char **argv)
{
    static const char *const caps[] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"};
    char *status, *oom, buf[PATH_MAX];
    struct utsname uts;
    gid_t *groups;
    int ngroups, i;
    size_t c;

    out = stdout;
    if (argc == 3 && strcmp(argv[1], "-o") == 0) {
        out = fopen(argv[2], "we");
        if (!out) {
            perror(argv[2]);
            return 1;
        }
    } else if (argc != 1) {
        fputs("usage: probe [-o FILE]\n", stderr);
        return 2;
    }
    status = read_file("/proc/self/status", NULL);
    if (!status)
        status = strdup("");

    open_object();
    key("argv");
    open_array();
    for (i = 0; i < argc; i++)
        value_str(argv[i]);
    close_array();
    key("pid"), value_int(getpid());
    key("ppid"), value_int(getppid());
    key("pgid"), value_int(getpgrp());
    key("sid"), value_int(getsid(0));
    key("uid"), value_int(getuid());
    key("gid"), value_int(getgid());
    key("euid"), value_int(geteuid());
    key("egid"), value_int(getegid());
    key("groups");
    open_array();
    ngroups = getgroups(0, NULL);
    groups = calloc(ngroups > 0 ? (size_t)ngroups : 1, sizeof *groups);
    if (groups && ngroups > 0)
        ngroups = getgroups(ngroups, groups);
    for (i = 0; groups && i < ngroups; i++)
        value_int(groups[i]);
    free(groups);
    close_array();
    key("umask");
    if (status_field(status, "Umask", buf, sizeof buf))
        value_str(buf);
    else {
        mode_t m = umask(0); /* kernels before 4.7: read it by setting it back */
        umask(m);
        snprintf(buf, sizeof buf, "%04o", (unsigned)m);
        value_str(buf);
    }
    key("capabilities");
    open_object();
    for (c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        key(caps[c]);
        value_str(status_field(status, caps[c], buf, sizeof buf));
    }
    close_object();
    key("no_new_privs"), status_int(status, "NoNewPrivs");
    key("seccomp"), status_int(status, "Seccomp");
    key("uid_map"), id_map("/proc/self/uid_map");
    key("gid_map"), id_map("/proc/self/gid_map");
    if (uname(&uts) == 0) {
        key("hostname"), value_str(uts.nodename);
        key("domainname"), value_str(uts.domainname);
    } else {
        key("hostname"), value_null();
        key("domainname"), value_null();
    }
    key("cwd"), value_str(getcwd(buf, sizeof buf));
    key("namespaces"), namespaces();
    key("cgroups"), lines_array("/proc/self/cgroup");
    key("mounts"), mounts();
    key("rlimits");
    open_object();
    rlimit("nofile", RLIMIT_NOFILE);
    rlimit("nproc", RLIMIT_NPROC);
    close_object();
    key("env");
    open_array();
    for (i = 0; environ && environ[i]; i++)
        value_str(environ[i]);
    close_array();
    key("fds"), fds();
    key("oom_score_adj");
    oom = read_file("/proc/self/oom_score_adj", NULL);
    if (oom)
        value_int(atoll(oom));
    else
        value_null();
    free(oom);
    close_object();
    putc('\n', out);
    free(status);
    if (fflush(out) != 0 || (out != stdout && fclose(out) != 0)) {
        perror("probe: write");
        return 1;
    }
    return 0;
}
