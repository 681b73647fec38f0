using System.Text;
using Bus.Aws.Signing;

namespace Bus.AmazonSqs.Tests;

/// <summary>SigV4 against AWS's published test-suite vectors (AKIDEXAMPLE, 20150830T123600Z, us-east-1, "service").</summary>
public sealed class SigV4SignerTests
{
    private static readonly AwsCredentials Example = new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    private static readonly DateTimeOffset SuiteTime = new(2015, 8, 30, 12, 36, 0, TimeSpan.Zero);

    private static string Sign(string method, string url, byte[]? body = null) =>
        SigV4Signer.Authorization(
            method, new Uri(url),
            [new("Host", "example.amazonaws.com"), new("X-Amz-Date", "20150830T123600Z")],
            SigV4Signer.HexSha256(body ?? []), "us-east-1", "service", Example, SuiteTime);

    [Fact]
    public void Get_vanilla()
    {
        Assert.Equal(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, " +
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            Sign("GET", "https://example.amazonaws.com/"));
    }

    [Fact]
    public void Get_vanilla_canonical_request_hash()
    {
        var (canonical, signed) = SigV4Signer.CanonicalRequest(
            "GET", new Uri("https://example.amazonaws.com/"),
            [new("Host", "example.amazonaws.com"), new("X-Amz-Date", "20150830T123600Z")], SigV4Signer.EmptyPayloadHash);

        Assert.Equal("host;x-amz-date", signed);
        Assert.Equal("bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63", SigV4Signer.HexSha256(Encoding.UTF8.GetBytes(canonical)));
    }

    [Fact]
    public void Get_vanilla_query_order_key_case_sorts_the_query()
    {
        Assert.EndsWith("Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
            Sign("GET", "https://example.amazonaws.com/?Param2=value2&Param1=value1"));
    }

    [Fact]
    public void Post_vanilla()
    {
        Assert.EndsWith("Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
            Sign("POST", "https://example.amazonaws.com/"));
    }

    [Fact]
    public void Get_utf8_encodes_the_path()
    {
        Assert.EndsWith("Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
            Sign("GET", "https://example.amazonaws.com/\u1234"));
    }

    [Fact]
    public void Derived_signing_key_matches_the_published_value()
    {
        Assert.Equal("938127b5336810ddb6a5d6af445fcac9e371f9ed418ed386b022aed82901be75",
            Convert.ToHexStringLower(SigV4Signer.SigningKey(Example.SecretAccessKey, "20150830", "us-east-1", "service")));
    }

    [Fact]
    public void Sqs_json_request_has_the_known_signature()
    {
        // Expected value computed independently (Python hmac/hashlib) for this exact request.
        var body = Encoding.UTF8.GetBytes("""{"QueueUrl":"https://sqs.us-east-1.amazonaws.com/123456789012/orders","MessageBody":"hello"}""");
        var authorization = SigV4Signer.Authorization(
            "POST", new Uri("https://sqs.us-east-1.amazonaws.com/"),
            [
                new("Host", "sqs.us-east-1.amazonaws.com"),
                new("X-Amz-Date", "20250101T000000Z"),
                new("Content-Type", "application/x-amz-json-1.0"),
                new("X-Amz-Target", "AmazonSQS.SendMessage"),
            ],
            SigV4Signer.HexSha256(body), "us-east-1", "sqs", Example, new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));

        Assert.Equal(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/sqs/aws4_request, " +
            "SignedHeaders=content-type;host;x-amz-date;x-amz-target, " +
            "Signature=3b5b863064ad53be7f18d5899dc6cdad4cb4b15789f4ab5dfe266f3e68f6f6f0",
            authorization);
    }

    [Fact]
    public void Header_values_are_trimmed_and_inner_spaces_collapsed()
    {
        var (canonical, _) = SigV4Signer.CanonicalRequest(
            "GET", new Uri("https://example.amazonaws.com/"), [new("My-Header1", "  value1   with  spaces ")], SigV4Signer.EmptyPayloadHash);

        Assert.Contains("my-header1:value1 with spaces\n", canonical);
    }
}
