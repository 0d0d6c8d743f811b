"""Hypothesis strategies shared by the unit tests and the end-to-end ones."""

from hypothesis import strategies as st

hosts = st.one_of(
    st.from_regex(r"[a-z0-9]{1,12}(\.[a-z0-9]{1,12}){0,3}", fullmatch=True),
    st.ip_addresses().map(lambda ip: f"[{ip}]" if ip.version == 6 else str(ip)),
    st.integers(0, 2**32 - 1).map(str),
    st.integers(0, 2**32 - 1).map(hex),
    st.text(max_size=20),
)
urls = st.one_of(
    st.text(max_size=300),
    st.builds(
        lambda scheme,
        creds,
        host,
        port,
        path: f"{scheme}://{creds}{host}{port}/{path}",
        st.sampled_from(["https", "http", "HTTPS", "ftp", "file", "javascript", ""]),
        st.sampled_from(["", "user@", "user:pw@", ":@"]),
        hosts,
        st.sampled_from(["", ":443", ":8080", ":0", ":99999", ":-1"]),
        st.text(max_size=30),
    ),
)
