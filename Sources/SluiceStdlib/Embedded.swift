public enum StandardLibrary {}
