//! Values as users write them, on the command line and in compose files:
//! durations (`1m30s`), sizes and CPUs (`512M`, `0.5`), published ports
//! (`8080:80/udp`, `published=8080,target=80`), mounts
//! (`type=bind,source=/data,target=/data`) and secret or config
//! references (`source=cert,target=/etc/cert.pem,mode=0400`). Each parser
//! answers a value or says, in words, what it expected.

pub mod duration;
pub mod file_ref;
pub mod mount;
pub mod publish;
pub mod units;
