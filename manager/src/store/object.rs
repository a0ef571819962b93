//! One type for "any stored object", with the accessors the store needs.

use shoal_proto::{Meta, ObjectKind, store_object::Object};

/// Display name of an object kind, as used in error messages.
pub fn kind_name(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Cluster => "cluster",
        ObjectKind::Node => "node",
        ObjectKind::Service => "service",
        ObjectKind::Task => "task",
        ObjectKind::Network => "network",
        ObjectKind::Secret => "secret",
        ObjectKind::Config => "config",
    }
}

/// Accessors shared by every object kind.
pub trait ObjectExt {
    fn kind(&self) -> ObjectKind;
    fn id(&self) -> &str;
    fn meta(&self) -> Option<&Meta>;
    fn meta_mut(&mut self) -> &mut Meta;

    /// `meta.version`: the raft index of the object's last write.
    fn version(&self) -> u64 {
        self.meta().map_or(0, |m| m.version)
    }
}

impl ObjectExt for Object {
    fn kind(&self) -> ObjectKind {
        match self {
            Object::Cluster(_) => ObjectKind::Cluster,
            Object::Node(_) => ObjectKind::Node,
            Object::Service(_) => ObjectKind::Service,
            Object::Task(_) => ObjectKind::Task,
            Object::Network(_) => ObjectKind::Network,
            Object::Secret(_) => ObjectKind::Secret,
            Object::Config(_) => ObjectKind::Config,
        }
    }

    fn id(&self) -> &str {
        match self {
            Object::Cluster(o) => &o.id,
            Object::Node(o) => &o.id,
            Object::Service(o) => &o.id,
            Object::Task(o) => &o.id,
            Object::Network(o) => &o.id,
            Object::Secret(o) => &o.id,
            Object::Config(o) => &o.id,
        }
    }

    fn meta_mut(&mut self) -> &mut Meta {
        let meta = match self {
            Object::Cluster(o) => &mut o.meta,
            Object::Node(o) => &mut o.meta,
            Object::Service(o) => &mut o.meta,
            Object::Task(o) => &mut o.meta,
            Object::Network(o) => &mut o.meta,
            Object::Secret(o) => &mut o.meta,
            Object::Config(o) => &mut o.meta,
        };
        meta.get_or_insert_with(Meta::default)
    }

    fn meta(&self) -> Option<&Meta> {
        match self {
            Object::Cluster(o) => o.meta.as_ref(),
            Object::Node(o) => o.meta.as_ref(),
            Object::Service(o) => o.meta.as_ref(),
            Object::Task(o) => o.meta.as_ref(),
            Object::Network(o) => o.meta.as_ref(),
            Object::Secret(o) => o.meta.as_ref(),
            Object::Config(o) => o.meta.as_ref(),
        }
    }
}
