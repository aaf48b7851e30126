"""Docker-style networks: address management (IPAM), bridges, the veth of each
container, the firewall (outbound NAT, isolation of networks) and published ports.

Everything lives in the kernel: a Linux bridge per network (``estiba0`` for the default
one, ``es-<id>`` for the others), a veth pair per container (host end ``ves<id>``), and
one nftables table of Estiba's own (``estiba``, ``estiba-<instance>`` for other daemon
instances), recomputed from the model and replaced whole on each change. Where an
iptables ``FORWARD`` chain exists too, it gets rules accepting the bridges' traffic,
since a packet is forwarded only when every base chain on the hook accepts it.
Modules: ``ipam`` (subnets and addresses; pure), ``ports`` (published ports; pure),
``firewall`` (the nft table of a model; pure), ``forwarding`` (iptables' FORWARD
chains), ``bridge`` (bridges and veths through netlink), ``service``
(``NetworkService``: networks and endpoints over their records) and ``system`` (the
service wired to the real kernel), ``dnsmessage`` and ``resolver`` (the embedded DNS
server of user-defined networks).
May import: ``estiba.kernel``, ``estiba.metadata``, ``estiba.errors``, ``estiba.oci``
and the standard library.
Man pages: nft(8), iptables(8), ip-link(8), veth(4).
"""
