import Foundation
import SwiftProtobuf

/// Builders for the summary values TensorBoard's dashboards read.
public enum Summaries {
    static func metadata(plugin: String, content: Data = Data(), dataClass: Tensorboard_DataClass, description: String = "") -> Tensorboard_SummaryMetadata {
        Tensorboard_SummaryMetadata.with {
            $0.pluginData.pluginName = plugin
            $0.pluginData.content = content
            $0.dataClass = dataClass
            $0.summaryDescription = description
        }
    }

    /// A point of a scalar curve (`simple_value`, which TensorBoard reads as the scalars plugin's).
    public static func scalar(_ tag: String, _ value: Double) -> Tensorboard_Summary.Value {
        Tensorboard_Summary.Value.with {
            $0.tag = tag
            $0.simpleValue = Float(value)
        }
    }

    /// A histogram of `values` in `buckets` equal-width buckets from their minimum to their
    /// maximum; bucket i counts values in (limit[i−1], limit[i]].
    public static func histogram(_ tag: String, _ values: UnsafeBufferPointer<Float>, buckets: Int = 30) -> Tensorboard_Summary.Value {
        var minimum = Double.infinity, maximum = -Double.infinity, sum = 0.0, squares = 0.0
        for value in values {
            let v = Double(value)
            minimum = min(minimum, v); maximum = max(maximum, v); sum += v; squares += v * v
        }
        if values.isEmpty { minimum = 0; maximum = 0 }
        let width = (maximum - minimum) / Double(buckets)
        var counts = [Double](repeating: 0, count: buckets)
        if width > 0 {
            for value in values {
                // (limit[i−1], limit[i]]: a value on a limit belongs to the lower bucket.
                let position = (Double(value) - minimum) / width
                counts[min(max(Int(position.rounded(.up)) - 1, 0), buckets - 1)] += 1
            }
        } else {
            counts[buckets - 1] = Double(values.count)
        }
        return Tensorboard_Summary.Value.with {
            $0.tag = tag
            $0.histo = Tensorboard_HistogramProto.with {
                $0.min = minimum; $0.max = maximum; $0.num = Double(values.count); $0.sum = sum; $0.sumSquares = squares
                $0.bucketLimit = (1 ... buckets).map { minimum + Double($0) * (width > 0 ? width : 1) }
                $0.bucket = counts
            }
        }
    }

    /// A PNG image (channels: 1 gray, 3 RGB, 4 RGBA).
    public static func image(_ tag: String, png: Data, width: Int, height: Int, channels: Int) -> Tensorboard_Summary.Value {
        Tensorboard_Summary.Value.with {
            $0.tag = tag
            $0.image = Tensorboard_Summary.Image.with {
                $0.width = Int32(width); $0.height = Int32(height); $0.colorspace = Int32(channels); $0.encodedImageString = png
            }
        }
    }

    /// Markdown text for the Text dashboard: a DT_STRING tensor with plugin "text".
    public static func text(_ tag: String, _ markdown: String) -> Tensorboard_Summary.Value {
        Tensorboard_Summary.Value.with {
            $0.tag = tag
            $0.metadata = metadata(plugin: "text", dataClass: .tensor)
            $0.tensor = Tensorboard_TensorProto.with {
                $0.dtype = .dtString
                $0.tensorShape = Tensorboard_TensorShapeProto()
                $0.stringVal = [Data(markdown.utf8)]
            }
        }
    }

    /// A hyperparameter value: a number, a string or a boolean.
    public enum HParam: Sendable, Equatable {
        case number(Double), string(String), bool(Bool)
    }

    /// `_hparams_/session_start_info`: this run is a session with these hyperparameters.
    public static func sessionStart(hparams: [String: HParam], groupName: String = "", startTime: Date = Date()) -> Tensorboard_Summary.Value {
        var start = Tensorboard_SessionStartInfo()
        start.startTimeSecs = startTime.timeIntervalSince1970
        start.groupName = groupName
        for (key, value) in hparams {
            start.hparams[key] = Google_Protobuf_Value.with {
                switch value {
                case .number(let number): $0.numberValue = number
                case .string(let string): $0.stringValue = string
                case .bool(let bool): $0.boolValue = bool
                }
            }
        }
        let data = Tensorboard_HParamsPluginData.with {
            $0.version = 0; $0.sessionStartInfo = start
        }
        return hparamsValue("_hparams_/session_start_info", data)
    }

    /// `_hparams_/session_end_info`: how the session ended.
    public static func sessionEnd(_ status: Tensorboard_Status, endTime: Date = Date()) -> Tensorboard_Summary.Value {
        let data = Tensorboard_HParamsPluginData.with {
            $0.version = 0
            $0.sessionEndInfo = Tensorboard_SessionEndInfo.with {
                $0.status = status; $0.endTimeSecs = endTime.timeIntervalSince1970
            }
        }
        return hparamsValue("_hparams_/session_end_info", data)
    }

    static func hparamsValue(_ tag: String, _ data: Tensorboard_HParamsPluginData) -> Tensorboard_Summary.Value {
        Tensorboard_Summary.Value.with {
            $0.tag = tag
            $0.metadata = metadata(plugin: "hparams", content: (try? data.serializedData()) ?? Data(), dataClass: .unknown)
            // The plugin reads only the metadata; an empty string tensor carries it.
            $0.tensor = Tensorboard_TensorProto.with {
                $0.dtype = .dtString; $0.tensorShape = Tensorboard_TensorShapeProto()
            }
        }
    }

    /// A layer graph for the Graphs dashboard: one node per layer, `op` its kind.
    public static func graph(_ nodes: [(name: String, op: String, inputs: [String], attributes: [String: String])]) -> Data {
        let graph = Tensorboard_GraphDef.with {
            $0.node = nodes.map { node in
                Tensorboard_NodeDef.with {
                    $0.name = node.name
                    $0.op = node.op
                    $0.input = node.inputs
                    for (key, value) in node.attributes { $0.attr[key] = Tensorboard_AttrValue.with { $0.s = Data(value.utf8) } }
                }
            }
        }
        return (try? graph.serializedData()) ?? Data()
    }
}
