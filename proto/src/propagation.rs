//! Bind mount propagations, as Docker names them (`--mount
//! bind-propagation=`, compose's `:rslave` or `bind: { propagation }`).

/// Every propagation a bind mount may ask for.
pub const BIND_PROPAGATIONS: [&str; 6] = ["private", "rprivate", "shared", "rshared", "slave", "rslave"];

/// `text` when it names a propagation; else an error listing them.
pub fn bind_propagation(text: &str) -> Result<String, String> {
    if BIND_PROPAGATIONS.contains(&text) {
        Ok(text.to_string())
    } else {
        Err(format!("expected one of {}, got {text:?}", BIND_PROPAGATIONS.join(", ")))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_as_docker_spells_them() {
        assert_eq!(super::bind_propagation("rslave").as_deref(), Ok("rslave"));
        assert!(super::bind_propagation("slavish").unwrap_err().starts_with("expected one of private, rprivate"));
    }
}
