"""The only code that calls the kernel.

Owns: the syscall wrappers (``linux.Linux``, through libc — ``libc`` — where Python's
``os`` lacks them), the constants they take (``consts``), capability names
(``capabilities``), ``/proc`` readers (``proc``), libseccomp (``seccomp``), eBPF
programs for cgroup v2 device rules (``bpf``), rtnetlink (``netlink``: links, addresses,
routes), persistent network namespaces (``netns``) and libnftables (``nftables``).
Operations are offered at the grain a caller needs (``pivot_root_into(path)`` does the
whole open/pivot/detach sequence). Callers receive a
kernel object in their constructor; nothing here is a module-level singleton.
May import: ``estiba.oci`` and ``estiba.errors`` only. Man pages: mount(2), pivot_root(2),
unshare(2), setns(2), capset(2), prctl(2), close_range(2), seccomp(2), rtnetlink(7),
netlink(7), network_namespaces(7), libnftables(3).
"""
