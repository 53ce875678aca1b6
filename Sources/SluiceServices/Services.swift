public enum Services {}
