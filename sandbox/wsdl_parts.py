"""The pieces of a document/literal WSDL that every hand-written dialect repeats per operation:
its request and response elements, messages, port-type entry and binding entry."""
from __future__ import annotations


def operation_parts(tns: str, name: str, inputs: str, outputs: str) -> tuple[str, str, str, str]:
    element = (f'<xsd:element name="{name}"><xsd:complexType><xsd:sequence>{inputs}'
               f'</xsd:sequence></xsd:complexType></xsd:element>'
               f'<xsd:element name="{name}Response"><xsd:complexType><xsd:sequence>{outputs}'
               f'</xsd:sequence></xsd:complexType></xsd:element>')
    message = (f'<wsdl:message name="{name}Input"><wsdl:part name="parameters" '
               f'element="tns:{name}"/></wsdl:message><wsdl:message name="{name}Output">'
               f'<wsdl:part name="parameters" element="tns:{name}Response"/></wsdl:message>')
    port = (f'<wsdl:operation name="{name}"><wsdl:input message="tns:{name}Input"/>'
            f'<wsdl:output message="tns:{name}Output"/></wsdl:operation>')
    binding = (f'<wsdl:operation name="{name}"><soap:operation soapAction="{tns}#{name}" '
               'style="document"/><wsdl:input><soap:body use="literal"/></wsdl:input>'
               '<wsdl:output><soap:body use="literal"/></wsdl:output></wsdl:operation>')
    return element, message, port, binding
