/// Every layer kind a spec may name. Adding a kind: one file, one line here, and its ONNX
/// translation (a few operators) in Sources/ONNX/LayerExport.swift, which a test asks for.
public enum LayerRegistry {
    public static let kinds: [any Layer.Type] = [
        Conv.self,
        Dense.self,
        ReLU.self,
        GELU.self,
        Scale.self,
        MaxPool.self,
        AvgPool.self,
        GlobalAvgPool.self,
        Dropout.self,
        Flatten.self,
        BatchNorm.self,
        Add.self,
        Concat.self,
    ]

    public static func kind(named name: String) -> (any Layer.Type)? {
        kinds.first { $0.kind == name }
    }

    public static var names: [String] { kinds.map { $0.kind }.sorted() }
}
