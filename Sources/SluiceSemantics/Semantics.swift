public enum Semantics {}
